-- SMS, WhatsApp and voice inboxes speak to a provider (Twilio's API and webhook format).
CREATE TABLE provider_accounts (
    inbox_id INTEGER PRIMARY KEY REFERENCES inboxes(id),
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    account_sid TEXT NOT NULL,
    -- Signs the provider's webhooks and authenticates our calls to its API.
    auth_token TEXT NOT NULL,
    api_base TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- SMS and WhatsApp details of a message, received or sent.
CREATE TABLE text_messages (
    message_id INTEGER PRIMARY KEY REFERENCES messages(id),
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    inbox_id INTEGER NOT NULL REFERENCES inboxes(id),
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    -- The provider's id; a retried webhook carries the same one. Unknown until a send is accepted.
    sid TEXT,
    -- The customer's address as the provider writes it (+14155550100, whatsapp:+14155550100).
    customer_address TEXT NOT NULL,
    -- received, queued, sent, delivered, read, failed
    delivery_state TEXT NOT NULL,
    delivery_error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX text_messages_sid ON text_messages(inbox_id, sid);
CREATE INDEX text_messages_conversation ON text_messages(conversation_id, message_id);

-- Phone calls, each on a conversation, as the provider reports their progress.
CREATE TABLE calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    inbox_id INTEGER NOT NULL REFERENCES inboxes(id),
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    sid TEXT NOT NULL,
    outbound INTEGER NOT NULL,
    customer_number TEXT NOT NULL,
    our_number TEXT NOT NULL,
    -- ringing, answered, transferred, completed, missed
    phase TEXT NOT NULL,
    provider_status TEXT NOT NULL,
    duration_secs INTEGER,
    recording_url TEXT,
    recording_secs INTEGER,
    transferred_to TEXT,
    started_at INTEGER NOT NULL,
    answered_at INTEGER,
    ended_at INTEGER,
    updated_at INTEGER NOT NULL,
    UNIQUE (inbox_id, sid)
);
CREATE INDEX calls_conversation ON calls(conversation_id, id);

-- The open conversation a customer's next text or call continues.
CREATE INDEX conversations_customer_inbox ON conversations(customer_id, inbox_id, status, id);
