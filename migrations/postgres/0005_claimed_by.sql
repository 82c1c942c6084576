-- Who claimed a conversation: the API key (as the audit log names it, `key:<id>`) that sent
-- the claim. An agent id is only a name the webcare platform chooses, so a reply must come
-- through the same key as the claim: another key cannot speak as that agent.
ALTER TABLE conversations ADD COLUMN claimed_by TEXT;
