-- The customer documents 0017 moved arrive as many small index segments; merge them now, as
-- PostgreSQL's 0018 cleans up after the same move (the two backends keep one numbering, which
-- backups record).
INSERT INTO customer_fts (customer_fts) VALUES ('optimize');
