-- Nothing to undo: 0018 only merged index segments.
SELECT 1;
