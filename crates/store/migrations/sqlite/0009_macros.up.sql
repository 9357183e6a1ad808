-- Canned responses with actions; owner_user_id set for personal ones.
CREATE TABLE macros (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    owner_user_id INTEGER REFERENCES users(id),
    name TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX macros_owner ON macros(workspace_id, owner_user_id);
