-- Inbox filters people keep: their own, or shared with the whole workspace.
CREATE TABLE saved_views (
    id BIGSERIAL PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id),
    user_id BIGINT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    -- JSON: status, assignee, team_id, tag, channel, inbox_id
    filters TEXT NOT NULL,
    shared BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX saved_views_owner ON saved_views(workspace_id, user_id);
