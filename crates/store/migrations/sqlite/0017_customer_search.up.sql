-- Customers' search documents get a table of their own, keyed by the customer's id. In one
-- table, newest-first search read conversation texts and customers along one id order, where
-- customer ids and message ids share no timeline: a word in many messages hid every customer.
CREATE VIRTUAL TABLE customer_fts USING fts5(
    body,
    workspace_id UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO customer_fts (rowid, body, workspace_id)
    SELECT rowid / 4, body, workspace_id FROM search_fts WHERE rowid % 4 = 2 ORDER BY rowid;
DELETE FROM search_fts WHERE rowid % 4 = 2;
