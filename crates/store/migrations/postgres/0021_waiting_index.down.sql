DROP INDEX conversations_waiting;
