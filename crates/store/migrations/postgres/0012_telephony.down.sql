DROP INDEX conversations_customer_inbox;
DROP TABLE calls;
DROP TABLE text_messages;
DROP TABLE provider_accounts;
