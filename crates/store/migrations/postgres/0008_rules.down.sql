DROP TABLE rule_runs;
DROP TABLE automation_rules;
