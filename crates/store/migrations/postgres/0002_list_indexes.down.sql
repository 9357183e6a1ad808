DROP INDEX conversations_assignee;
DROP INDEX conversations_team;
CREATE INDEX conversations_assignee ON conversations(workspace_id, assignee_id, status, updated_at, id);
CREATE INDEX conversations_team ON conversations(workspace_id, team_id, status, updated_at, id);
