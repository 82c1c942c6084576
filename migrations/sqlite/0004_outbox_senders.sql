-- Outbox senders and their heartbeats. A row in `outbox` with status 'sending' may already
-- have been delivered by the Graph API (its owner marked it before the HTTP request), so only
-- its owner (`locked_by`) records the outcome. Another sender takes such a row over only
-- after it has itself watched the owner's `beat` stand still for a whole lease: a counter
-- rather than a time, so the decision never rests on comparing two machines' clocks or on
-- time that passed while the database was unreachable (see src/channels/outbox.rs).
CREATE TABLE IF NOT EXISTS outbox_senders (
    worker     TEXT PRIMARY KEY,
    beat       INTEGER NOT NULL DEFAULT 0,
    beat_at    TEXT NOT NULL,
    started_at TEXT NOT NULL
);
-- Owners of rows being sent, for the takeover check on every claim.
CREATE INDEX IF NOT EXISTS outbox_sending ON outbox(status, locked_by);
