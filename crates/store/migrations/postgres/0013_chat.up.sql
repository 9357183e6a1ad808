-- The live-chat widget of a chat inbox: the public key its snippet carries, and its settings.
CREATE TABLE chat_widgets (
    inbox_id BIGINT PRIMARY KEY REFERENCES inboxes(id),
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id),
    widget_key TEXT NOT NULL UNIQUE,
    greeting TEXT NOT NULL,
    color TEXT NOT NULL,
    -- JSON list of origins allowed to embed the widget; empty: any.
    allowed_origins TEXT NOT NULL,
    offline_inbox_id BIGINT REFERENCES inboxes(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- A browser talking to a widget. The token is the visitor's only credential; it is stored hashed.
CREATE TABLE chat_visitors (
    id BIGSERIAL PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id),
    inbox_id BIGINT NOT NULL REFERENCES inboxes(id),
    token_hash TEXT NOT NULL UNIQUE,
    -- Made when the visitor first writes.
    customer_id BIGINT REFERENCES customers(id),
    conversation_id BIGINT REFERENCES conversations(id),
    typing_until BIGINT,
    -- The visitor has seen agents' messages up to this id; agents have seen the visitor's.
    read_up_to BIGINT NOT NULL DEFAULT 0,
    agent_read_up_to BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX chat_visitors_conversation ON chat_visitors(conversation_id);
CREATE INDEX chat_visitors_idle ON chat_visitors(last_seen_at);
