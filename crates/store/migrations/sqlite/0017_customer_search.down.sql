INSERT INTO search_fts (rowid, body, workspace_id, conversation_id)
    SELECT rowid * 4 + 2, body, workspace_id, NULL FROM customer_fts;
DROP TABLE customer_fts;
