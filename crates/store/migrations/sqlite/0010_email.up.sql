-- Secrets every node shares, e.g. the key that signs reply tokens in outgoing mail.
CREATE TABLE instance_keys (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- The SMTP listener routes by recipient: an email address belongs to one inbox in all workspaces.
CREATE UNIQUE INDEX inboxes_email_address ON inboxes(address) WHERE channel = 'email';

-- Email details of a message, received or sent.
CREATE TABLE email_messages (
    message_id INTEGER PRIMARY KEY REFERENCES messages(id),
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    -- The RFC 5322 Message-ID without angle brackets.
    rfc_message_id TEXT NOT NULL,
    from_address TEXT NOT NULL,
    to_addresses TEXT NOT NULL DEFAULT '[]',
    cc_addresses TEXT NOT NULL DEFAULT '[]',
    -- The message as received or sent, byte for byte.
    raw_sha256 TEXT REFERENCES blobs(sha256),
    -- Where quoted text or a signature starts in the message's text (characters), if anywhere.
    fold_at INTEGER,
    -- received, queued, sent, failed, bounced
    delivery_state TEXT NOT NULL,
    delivery_error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX email_messages_rfc ON email_messages(workspace_id, rfc_message_id);
CREATE INDEX email_messages_conversation ON email_messages(conversation_id, message_id);

-- Every mail that reached an inbox: the key that spots redeliveries, and what became of it.
CREATE TABLE inbound_mail (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    inbox_id INTEGER NOT NULL REFERENCES inboxes(id),
    dedupe_key TEXT NOT NULL,
    -- smtp or imap
    source TEXT NOT NULL,
    envelope_from TEXT,
    -- created (a new conversation), appended, auto_reply, bounce, ignored, rejected
    outcome TEXT NOT NULL,
    reason TEXT,
    conversation_id INTEGER REFERENCES conversations(id),
    message_id INTEGER REFERENCES messages(id),
    raw_sha256 TEXT REFERENCES blobs(sha256),
    size INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    UNIQUE (inbox_id, dedupe_key)
);
CREATE INDEX inbound_mail_recent ON inbound_mail(workspace_id, received_at, id);
