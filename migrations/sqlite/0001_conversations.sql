-- Conversations and their messages. Message texts are stored as the privacy guard left
-- them: personal data is replaced by placeholders before anything is written.
CREATE TABLE IF NOT EXISTS conversations (
    id          TEXT PRIMARY KEY,
    channel     TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'bot',
    department  TEXT,
    context     TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    direction       TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    channel         TEXT NOT NULL,
    text            TEXT NOT NULL,
    pii             TEXT NOT NULL DEFAULT '',
    intent          TEXT,
    action          TEXT,
    confidence      REAL,
    faq_id          TEXT,
    agent_id        TEXT,
    status          TEXT,
    response_ms     INTEGER,
    created_at      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_conversation ON messages(conversation_id, id);
CREATE INDEX IF NOT EXISTS messages_created ON messages(created_at);

CREATE TABLE IF NOT EXISTS handoffs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    department      TEXT NOT NULL,
    reason          TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'waiting',
    agent_id        TEXT,
    created_at      TEXT NOT NULL,
    claimed_at      TEXT,
    resolved_at     TEXT
);
CREATE INDEX IF NOT EXISTS handoffs_status ON handoffs(status, department);
