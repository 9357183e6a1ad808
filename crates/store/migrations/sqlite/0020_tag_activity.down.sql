DROP TRIGGER conversation_tags_follow;
DROP INDEX conversation_tags_recent;
CREATE INDEX conversation_tags_tag ON conversation_tags(tag_id, conversation_id);
ALTER TABLE conversation_tags DROP COLUMN conversation_updated_at;
