-- Channels, the handoff API and the archive: the inbound queue (deduplicated on the channel's
-- message id), the outbox, contacts with their WhatsApp 24-hour window, agents' notes,
-- API keys, outbound webhook deliveries and an audit log.

-- A contact on a channel. `address` (the WhatsApp number) is needed to reply and is never
-- exported or logged; `id` is a keyed hash of it.
CREATE TABLE IF NOT EXISTS contacts (
    id              TEXT PRIMARY KEY,
    channel         TEXT NOT NULL,
    address         TEXT NOT NULL,
    conversation_id TEXT,
    last_inbound_at TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

ALTER TABLE conversations ADD COLUMN contact_id TEXT;
ALTER TABLE conversations ADD COLUMN agent_id TEXT;
-- When the current handoff was requested (the queue's "waiting since").
ALTER TABLE conversations ADD COLUMN waiting_since TEXT;
ALTER TABLE conversations ADD COLUMN resolved_at TEXT;
CREATE INDEX IF NOT EXISTS conversations_status ON conversations(status, department);
CREATE INDEX IF NOT EXISTS conversations_updated ON conversations(updated_at);

-- The channel's own message id (WhatsApp wamid), the kind of message (text, button_reply,
-- image, …, template, interactive), what was archived about media (never its content), and
-- who wrote it: citizen, bot or agent.
ALTER TABLE messages ADD COLUMN external_id TEXT;
ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'text';
ALTER TABLE messages ADD COLUMN meta TEXT;
ALTER TABLE messages ADD COLUMN sender TEXT NOT NULL DEFAULT 'bot';
ALTER TABLE messages ADD COLUMN status_at TEXT;
UPDATE messages SET sender = 'citizen' WHERE direction = 'in';
CREATE INDEX IF NOT EXISTS messages_external ON messages(external_id);

ALTER TABLE handoffs ADD COLUMN first_reply_at TEXT;
ALTER TABLE handoffs ADD COLUMN within_office_hours INTEGER NOT NULL DEFAULT 1;
CREATE INDEX IF NOT EXISTS handoffs_conversation ON handoffs(conversation_id, id);

-- Inbound messages, persisted (and deduplicated) before the channel is acknowledged, then
-- processed once: claimed by one instance at a time, one message per conversation at a time.
CREATE TABLE IF NOT EXISTS inbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    channel      TEXT NOT NULL,
    external_id  TEXT NOT NULL UNIQUE,
    contact_id   TEXT NOT NULL,
    payload      TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending',
    attempts     INTEGER NOT NULL DEFAULT 0,
    locked_by    TEXT,
    locked_until TEXT,
    last_error   TEXT,
    received_at  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    done_at      TEXT
);
CREATE INDEX IF NOT EXISTS inbox_status ON inbox(status, id);
CREATE INDEX IF NOT EXISTS inbox_contact ON inbox(contact_id, status, id);

-- Messages to send on a channel. Written in the same transaction as the decision, so a
-- crash between deciding and sending loses nothing; `dedup_key` keeps a reprocessed
-- message from queueing a second reply.
CREATE TABLE IF NOT EXISTS outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    dedup_key       TEXT NOT NULL UNIQUE,
    conversation_id TEXT NOT NULL,
    contact_id      TEXT NOT NULL,
    message_id      INTEGER,
    channel         TEXT NOT NULL,
    kind            TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    locked_by       TEXT,
    locked_until    TEXT,
    external_id     TEXT,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(status, next_attempt_at);

CREATE TABLE IF NOT EXISTS notes (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    agent_id        TEXT NOT NULL,
    text            TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS notes_conversation ON notes(conversation_id, id);

-- API keys: only a SHA-256 of the key is stored; `id` is the key's public prefix.
CREATE TABLE IF NOT EXISTS api_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    revoked_at   TEXT,
    last_used_at TEXT
);

-- Events for the webcare platform, delivered with retries; `id` is the delivery id the
-- platform sees, the same on every retry.
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id              TEXT PRIMARY KEY,
    event           TEXT NOT NULL,
    conversation_id TEXT,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    locked_until    TEXT,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    delivered_at    TEXT
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);

CREATE TABLE IF NOT EXISTS audit_log (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    at              TEXT NOT NULL,
    actor           TEXT NOT NULL,
    action          TEXT NOT NULL,
    conversation_id TEXT,
    detail          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log(at);
