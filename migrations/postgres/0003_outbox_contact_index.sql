-- The outbox claim picks the oldest unsent reply of each contact; without this index that
-- lookup scanned the whole outbox for every candidate (measured: the claim held SQLite's
-- writer for up to 111 ms at 200 messages/s, delaying webhook acknowledgements).
CREATE INDEX IF NOT EXISTS outbox_contact ON outbox(contact_id, status, id);
