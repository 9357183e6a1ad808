-- Service levels: business calendars, policies and the clocks of each conversation.
-- Business calendars: a time zone, weekly hours and holidays, as one validated document.
CREATE TABLE calendars (
    id BIGSERIAL PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id),
    name TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (workspace_id, name)
);

-- Response and resolution targets, the first matching policy by position applies.
CREATE TABLE sla_policies (
    id BIGSERIAL PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id),
    name TEXT NOT NULL,
    position BIGINT NOT NULL,
    enabled BIGINT NOT NULL,
    calendar_id BIGINT REFERENCES calendars(id),
    definition TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (workspace_id, name)
);

-- One clock per conversation and metric; due_at is set while it runs.
CREATE TABLE sla_clocks (
    conversation_id BIGINT NOT NULL REFERENCES conversations(id),
    metric TEXT NOT NULL,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id),
    policy_id BIGINT NOT NULL,
    clock TEXT NOT NULL,
    due_at BIGINT,
    warned_at BIGINT,
    breached_at BIGINT,
    met_at BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, metric)
);
CREATE INDEX sla_clocks_due ON sla_clocks(workspace_id, due_at);
CREATE INDEX sla_clocks_breached ON sla_clocks(workspace_id, breached_at);
