-- Colleagues called into a conversation by an @mention in an internal note.
CREATE TABLE mentions (
    id BIGSERIAL PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id),
    conversation_id BIGINT NOT NULL REFERENCES conversations(id),
    message_id BIGINT NOT NULL REFERENCES messages(id),
    user_id BIGINT NOT NULL REFERENCES users(id),
    by_user_id BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    -- When the person opened the conversation after being mentioned.
    seen_at BIGINT
);
CREATE INDEX mentions_of_user ON mentions(workspace_id, user_id, id);
CREATE INDEX mentions_conversation ON mentions(conversation_id);
