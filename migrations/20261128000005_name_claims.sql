-- Command side: unique display names per kind of aggregate (managed instances first). A name is
-- claimed before the command that uses it runs and released when the owner renames or goes
-- away, because an aggregate only sees itself and cannot enforce uniqueness across instances.
CREATE TABLE name_claims
(
    kind       text        NOT NULL,
    name       text        NOT NULL,
    owner_id   uuid        NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, name)
);

CREATE INDEX name_claims_owner ON name_claims (owner_id);
