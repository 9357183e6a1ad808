-- Canned responses with actions; owner_user_id set for personal ones.
CREATE TABLE macros (
    id BIGSERIAL PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id),
    owner_user_id BIGINT REFERENCES users(id),
    name TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX macros_owner ON macros(workspace_id, owner_user_id);
