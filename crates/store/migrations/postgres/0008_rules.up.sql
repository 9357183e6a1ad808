-- Automation: when a trigger fires and the conditions hold, the actions run in order.
CREATE TABLE automation_rules (
    id BIGSERIAL PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id),
    name TEXT NOT NULL,
    position BIGINT NOT NULL,
    enabled BIGINT NOT NULL,
    trigger_kind TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (workspace_id, name)
);
CREATE INDEX automation_rules_trigger ON automation_rules(workspace_id, trigger_kind, position);

-- What rules did and why they stopped; kept when a rule is deleted.
CREATE TABLE rule_runs (
    id BIGSERIAL PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id),
    rule_id BIGINT,
    rule_name TEXT NOT NULL,
    conversation_id BIGINT,
    event_id BIGINT,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX rule_runs_recent ON rule_runs(workspace_id, id);
CREATE INDEX rule_runs_rule ON rule_runs(rule_id, id);
