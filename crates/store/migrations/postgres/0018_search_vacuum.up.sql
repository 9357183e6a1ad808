-- no-transaction
-- The customer documents that 0017 moved out leave dead index entries behind: a search for a
-- name would still visit every one. Vacuum clears them now rather than at autovacuum's leisure.
VACUUM (ANALYZE) search_documents;
