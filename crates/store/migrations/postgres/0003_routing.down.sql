DROP TABLE follow_ups;
DROP TABLE transfers;
DROP INDEX conversations_load;
DROP TABLE routing_policies;
DROP TABLE agent_presence;
