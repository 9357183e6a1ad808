-- Colleagues called into a conversation by an @mention in an internal note.
CREATE TABLE mentions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    message_id INTEGER NOT NULL REFERENCES messages(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    by_user_id INTEGER REFERENCES users(id),
    created_at INTEGER NOT NULL,
    -- When the person opened the conversation after being mentioned.
    seen_at INTEGER
);
CREATE INDEX mentions_of_user ON mentions(workspace_id, user_id, id);
CREATE INDEX mentions_conversation ON mentions(conversation_id);
