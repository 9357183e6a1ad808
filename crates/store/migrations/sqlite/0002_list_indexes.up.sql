-- Assignee and team views filter several statuses at once (open and pending): an index ordered by
-- update time within the assignee or team serves them without sorting; status is checked per row.
DROP INDEX conversations_assignee;
DROP INDEX conversations_team;
CREATE INDEX conversations_assignee ON conversations(workspace_id, assignee_id, updated_at, id);
CREATE INDEX conversations_team ON conversations(workspace_id, team_id, updated_at, id);

-- Fresh statistics for the new indexes, so the planner weighs them against the others.
ANALYZE;
