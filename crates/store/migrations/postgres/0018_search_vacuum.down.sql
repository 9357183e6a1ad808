-- no-transaction
-- Nothing to undo: 0018 only cleaned up.
SELECT 1;
