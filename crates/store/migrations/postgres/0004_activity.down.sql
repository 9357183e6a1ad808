DROP TABLE conversation_activity;
