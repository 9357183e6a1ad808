-- The routing queue: each routed inbox's open conversations with nobody assigned, oldest first.
-- The dispatcher and queue positions read a routed inbox's oldest from here and stop; before,
-- they read every open unassigned conversation of the workspace (a hundred thousand at 10^6
-- conversations, 40 ms) and sorted them.
CREATE INDEX conversations_waiting ON conversations(workspace_id, inbox_id, created_at, id)
    WHERE assignee_id IS NULL AND status = 'open';
