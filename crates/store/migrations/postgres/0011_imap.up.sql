-- External mailboxes an email inbox polls over IMAP, and how far each has been read.
CREATE TABLE imap_mailboxes (
    inbox_id BIGINT PRIMARY KEY REFERENCES inboxes(id),
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id),
    host TEXT NOT NULL,
    port BIGINT NOT NULL,
    -- tls (implicit TLS, port 993) or plain (only for a server on a trusted network)
    security TEXT NOT NULL,
    username TEXT NOT NULL,
    password TEXT NOT NULL,
    folder TEXT NOT NULL,
    interval_secs BIGINT NOT NULL,
    enabled BIGINT NOT NULL,
    -- The folder's UIDVALIDITY when last_uid was read; a change means UIDs start over.
    uid_validity BIGINT,
    last_uid BIGINT NOT NULL DEFAULT 0,
    next_poll_at BIGINT NOT NULL,
    -- A node polling the mailbox holds it until then, so two nodes never poll it at once.
    lease_until BIGINT,
    last_polled_at BIGINT,
    last_error TEXT,
    failures BIGINT NOT NULL DEFAULT 0,
    fetched BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX imap_mailboxes_due ON imap_mailboxes(next_poll_at);
