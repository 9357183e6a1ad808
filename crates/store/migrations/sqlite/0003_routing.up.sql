-- Presence and capacity of agents, per workspace.
CREATE TABLE agent_presence (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    presence TEXT NOT NULL,
    capacity TEXT NOT NULL,
    last_seen_at INTEGER NOT NULL,
    last_assigned_at INTEGER NOT NULL DEFAULT 0,
    changed_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);

-- How an inbox hands out its conversations.
CREATE TABLE routing_policies (
    inbox_id INTEGER PRIMARY KEY REFERENCES inboxes(id),
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    strategy TEXT NOT NULL,
    team_id INTEGER REFERENCES teams(id),
    skill_rules TEXT NOT NULL,
    overflow_team_id INTEGER REFERENCES teams(id),
    overflow_after_secs INTEGER,
    updated_at INTEGER NOT NULL
);

-- Open work per agent and channel, counted from the index alone.
CREATE INDEX conversations_load ON conversations(workspace_id, assignee_id, status, channel);

CREATE TABLE transfers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    from_user_id INTEGER REFERENCES users(id),
    to_user_id INTEGER REFERENCES users(id),
    to_team_id INTEGER REFERENCES teams(id),
    mode TEXT NOT NULL,
    state TEXT NOT NULL,
    fallback TEXT NOT NULL,
    capsule TEXT NOT NULL,
    message_to_customer TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    decided_at INTEGER,
    decided_by INTEGER REFERENCES users(id),
    decline_reason TEXT
);
CREATE INDEX transfers_conversation ON transfers(conversation_id, id);
CREATE INDEX transfers_offers ON transfers(workspace_id, state, to_user_id);
CREATE INDEX transfers_time ON transfers(workspace_id, created_at);

-- Promises to customers and updates owed before resolving.
CREATE TABLE follow_ups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    due_at INTEGER,
    created_by INTEGER REFERENCES users(id),
    created_at INTEGER NOT NULL,
    done_at INTEGER,
    done_by INTEGER REFERENCES users(id)
);
CREATE INDEX follow_ups_conversation ON follow_ups(conversation_id, id);
CREATE INDEX follow_ups_open ON follow_ups(workspace_id, done_at, due_at);
