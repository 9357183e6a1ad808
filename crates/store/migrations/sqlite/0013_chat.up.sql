-- The live-chat widget of a chat inbox: the public key its snippet carries, and its settings.
CREATE TABLE chat_widgets (
    inbox_id INTEGER PRIMARY KEY REFERENCES inboxes(id),
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    widget_key TEXT NOT NULL UNIQUE,
    greeting TEXT NOT NULL,
    color TEXT NOT NULL,
    -- JSON list of origins allowed to embed the widget; empty: any.
    allowed_origins TEXT NOT NULL,
    offline_inbox_id INTEGER REFERENCES inboxes(id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- A browser talking to a widget. The token is the visitor's only credential; it is stored hashed.
CREATE TABLE chat_visitors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    inbox_id INTEGER NOT NULL REFERENCES inboxes(id),
    token_hash TEXT NOT NULL UNIQUE,
    -- Made when the visitor first writes.
    customer_id INTEGER REFERENCES customers(id),
    conversation_id INTEGER REFERENCES conversations(id),
    typing_until INTEGER,
    -- The visitor has seen agents' messages up to this id; agents have seen the visitor's.
    read_up_to INTEGER NOT NULL DEFAULT 0,
    agent_read_up_to INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);
CREATE INDEX chat_visitors_conversation ON chat_visitors(conversation_id);
CREATE INDEX chat_visitors_idle ON chat_visitors(last_seen_at);
