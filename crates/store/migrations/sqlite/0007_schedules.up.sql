-- Working schedules: an agent with a calendar gets routed work only within its hours.
ALTER TABLE agent_presence ADD COLUMN schedule_calendar_id INTEGER;
