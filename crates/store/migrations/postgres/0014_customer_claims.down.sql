DROP INDEX customers_name;
DROP TABLE merge_dismissals;
DROP TABLE identity_claims;
