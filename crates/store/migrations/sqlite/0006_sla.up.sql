-- Service levels: business calendars, policies and the clocks of each conversation.
-- Business calendars: a time zone, weekly hours and holidays, as one validated document.
CREATE TABLE calendars (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    name TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (workspace_id, name)
);

-- Response and resolution targets, the first matching policy by position applies.
CREATE TABLE sla_policies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    enabled INTEGER NOT NULL,
    calendar_id INTEGER REFERENCES calendars(id),
    definition TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (workspace_id, name)
);

-- One clock per conversation and metric; due_at is set while it runs.
CREATE TABLE sla_clocks (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    metric TEXT NOT NULL,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    policy_id INTEGER NOT NULL,
    clock TEXT NOT NULL,
    due_at INTEGER,
    warned_at INTEGER,
    breached_at INTEGER,
    met_at INTEGER,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, metric)
);
CREATE INDEX sla_clocks_due ON sla_clocks(workspace_id, due_at);
CREATE INDEX sla_clocks_breached ON sla_clocks(workspace_id, breached_at);
