-- Who is viewing or typing in a conversation right now (collision detection); rows expire.
CREATE TABLE conversation_activity (
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id),
    conversation_id BIGINT NOT NULL REFERENCES conversations(id),
    user_id BIGINT NOT NULL REFERENCES users(id),
    activity TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX conversation_activity_expiry ON conversation_activity(expires_at);
