ALTER TABLE agent_presence DROP COLUMN schedule_calendar_id;
