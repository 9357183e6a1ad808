-- Automation: when a trigger fires and the conditions hold, the actions run in order.
CREATE TABLE automation_rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    enabled INTEGER NOT NULL,
    trigger_kind TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (workspace_id, name)
);
CREATE INDEX automation_rules_trigger ON automation_rules(workspace_id, trigger_kind, position);

-- What rules did and why they stopped; kept when a rule is deleted.
CREATE TABLE rule_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    rule_id INTEGER,
    rule_name TEXT NOT NULL,
    conversation_id INTEGER,
    event_id INTEGER,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX rule_runs_recent ON rule_runs(workspace_id, id);
CREATE INDEX rule_runs_rule ON rule_runs(rule_id, id);
