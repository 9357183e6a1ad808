DROP TABLE imap_mailboxes;
