ALTER INDEX search_documents_tsv RESET (gin_pending_list_limit);
INSERT INTO search_documents (id, workspace_id, conversation_id, body)
    SELECT id * 4 + 2, workspace_id, NULL, body FROM customer_search_documents;
DROP TABLE customer_search_documents;
