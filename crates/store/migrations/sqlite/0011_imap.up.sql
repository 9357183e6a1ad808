-- External mailboxes an email inbox polls over IMAP, and how far each has been read.
CREATE TABLE imap_mailboxes (
    inbox_id INTEGER PRIMARY KEY REFERENCES inboxes(id),
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    -- tls (implicit TLS, port 993) or plain (only for a server on a trusted network)
    security TEXT NOT NULL,
    username TEXT NOT NULL,
    password TEXT NOT NULL,
    folder TEXT NOT NULL,
    interval_secs INTEGER NOT NULL,
    enabled INTEGER NOT NULL,
    -- The folder's UIDVALIDITY when last_uid was read; a change means UIDs start over.
    uid_validity INTEGER,
    last_uid INTEGER NOT NULL DEFAULT 0,
    next_poll_at INTEGER NOT NULL,
    -- A node polling the mailbox holds it until then, so two nodes never poll it at once.
    lease_until INTEGER,
    last_polled_at INTEGER,
    last_error TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    fetched INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX imap_mailboxes_due ON imap_mailboxes(next_poll_at);
