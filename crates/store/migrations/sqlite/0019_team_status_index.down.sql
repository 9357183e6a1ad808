DROP INDEX conversations_team_status;
