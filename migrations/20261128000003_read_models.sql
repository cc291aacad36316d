-- Read models. Written only by projectors, read only by the query API. `last_sequence` on an
-- entity row is the aggregate sequence of the last event applied to it.

CREATE TABLE rm_users
(
    id            uuid PRIMARY KEY,
    username      text        NOT NULL UNIQUE,
    role          text        NOT NULL,
    active        boolean     NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL,
    -- Shown in the user list; set by login events (issue: users and roles).
    last_login_at timestamptz,
    last_sequence bigint      NOT NULL
);

CREATE TABLE rm_managed_instances
(
    id                     uuid PRIMARY KEY,
    name                   text        NOT NULL,
    host                   text        NOT NULL,
    port                   integer     NOT NULL,
    database               text        NOT NULL,
    username               text        NOT NULL,
    sslmode                text        NOT NULL,
    connect_timeout_s      integer     NOT NULL,
    tags                   text[]      NOT NULL DEFAULT '{}',
    -- Whether a password is stored; never the password, not even sealed.
    has_credential         boolean     NOT NULL DEFAULT false,
    -- unknown / connected / error / invalid_credentials, from ConnectionTested events.
    last_connection_status text        NOT NULL DEFAULT 'unknown',
    last_error             text,
    last_tested_at         timestamptz,
    latency_ms             double precision,
    server_version         text,
    last_heartbeat         timestamptz,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL,
    last_sequence          bigint      NOT NULL
);

CREATE INDEX rm_managed_instances_name ON rm_managed_instances (name);

CREATE TABLE rm_collectors
(
    id                     uuid PRIMARY KEY,
    name                   text        NOT NULL,
    hostname               text        NOT NULL,
    version                text        NOT NULL,
    -- registered / active / offline; deleted collectors leave the table.
    status                 text        NOT NULL,
    registered_at          timestamptz NOT NULL,
    last_seen              timestamptz,
    metrics_count_total    bigint      NOT NULL DEFAULT 0,
    last_sequence          bigint      NOT NULL
);

CREATE TABLE rm_registration_secrets
(
    id                 uuid PRIMARY KEY,
    name               text        NOT NULL,
    -- The first characters of the secret only; the secret itself is never stored.
    prefix             text        NOT NULL,
    active             boolean     NOT NULL DEFAULT true,
    expires_at         timestamptz,
    max_registrations  integer,
    registrations_used integer     NOT NULL DEFAULT 0,
    last_used_at       timestamptz,
    created_at         timestamptz NOT NULL,
    last_sequence      bigint      NOT NULL
);

-- One row per domain event, readable by a person, with who did it.
CREATE TABLE rm_audit_log
(
    aggregate_type  text        NOT NULL,
    aggregate_id    text        NOT NULL,
    sequence        bigint      NOT NULL,
    event_type      text        NOT NULL,
    summary         text        NOT NULL,
    actor_kind      text,
    actor_id        text,
    actor_name      text,
    recorded_at     timestamptz NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);

-- The audit page lists newest first and filters by time.
CREATE INDEX rm_audit_log_recorded_at ON rm_audit_log (recorded_at DESC);
