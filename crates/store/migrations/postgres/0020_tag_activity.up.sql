-- A tag's conversations, newest first ("tagged billing"): each tag row carries its
-- conversation's last activity, so a tag filter walks the tag's own entries in order and stops
-- after a page. Without it, a list walked the newest conversations and probed each for the
-- tag: five hundred probes for a page of a tag on one conversation in twenty.
ALTER TABLE conversation_tags ADD COLUMN conversation_updated_at BIGINT NOT NULL DEFAULT 0;
UPDATE conversation_tags ct SET conversation_updated_at = c.updated_at
    FROM conversations c WHERE c.id = ct.conversation_id;
DROP INDEX conversation_tags_tag;
CREATE INDEX conversation_tags_recent ON conversation_tags(tag_id, conversation_updated_at, conversation_id);
-- The copy follows the conversation wherever its activity changes. Rows that disagree are
-- mended on every write of the activity, even one that leaves it as it was: a tag added in
-- the same millisecond as another change may have copied the value from before it.
CREATE FUNCTION conversation_tags_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE conversation_tags SET conversation_updated_at = NEW.updated_at
    WHERE conversation_id = NEW.id AND conversation_updated_at <> NEW.updated_at;
    RETURN NULL;
END
$$;
CREATE TRIGGER conversation_tags_follow AFTER UPDATE OF updated_at ON conversations
FOR EACH ROW EXECUTE FUNCTION conversation_tags_follow();
