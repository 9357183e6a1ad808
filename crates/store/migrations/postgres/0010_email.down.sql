DROP TABLE inbound_mail;
DROP TABLE email_messages;
DROP INDEX inboxes_email_address;
DROP TABLE instance_keys;
