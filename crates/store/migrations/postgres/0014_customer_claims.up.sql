-- Identities a customer said were theirs but another customer holds (e.g. an email typed into the
-- chat widget): kept as evidence for a merge an agent decides on, never merged automatically.
CREATE TABLE identity_claims (
    id BIGSERIAL PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id),
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (customer_id, kind, value)
);
CREATE INDEX identity_claims_value ON identity_claims(workspace_id, kind, value);

-- Pairs of customers an agent said are different people: not suggested again.
CREATE TABLE merge_dismissals (
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id),
    customer_a BIGINT NOT NULL,
    customer_b BIGINT NOT NULL,
    user_id BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, customer_a, customer_b)
);

-- Customers with the same full name are suggested as possible duplicates.
CREATE INDEX customers_name ON customers(workspace_id, lower(name));
