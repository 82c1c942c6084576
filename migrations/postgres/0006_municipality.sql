-- One Loket for several municipalities: every conversation belongs to one. Rows from before
-- are adopted by the default municipality when Loket starts (see SqlStore::adopt_conversations).
ALTER TABLE conversations ADD COLUMN municipality TEXT NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS conversations_municipality ON conversations(municipality, status);

-- The municipalities a key may act for (comma-separated slugs); empty: every one (a
-- supplier-wide key, and every key from before).
ALTER TABLE api_keys ADD COLUMN municipalities TEXT NOT NULL DEFAULT '';

-- Messages sent per WhatsApp number per second, shared by every instance on this database,
-- so N instances together keep to one number's rate (80/s by default), not N times it.
CREATE TABLE IF NOT EXISTS send_windows (
    number  TEXT NOT NULL,
    second  BIGINT NOT NULL,
    sent    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (number, second)
);
