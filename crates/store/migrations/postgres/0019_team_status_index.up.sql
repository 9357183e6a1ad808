-- A team's conversations in one status, newest first ("open in Billing"): walked in order and
-- stopped after a page. Without it, such a list walked every conversation in that status and
-- discarded those of other teams, or every conversation of the team and discarded the others.
CREATE INDEX conversations_team_status ON conversations(workspace_id, team_id, status, updated_at, id);
