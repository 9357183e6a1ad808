-- The inbox counts (mine, nobody's) read this index alone, without touching the rows.
CREATE INDEX conversations_assignee_status ON conversations(workspace_id, assignee_id, status);
