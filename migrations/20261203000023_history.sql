-- History: every version of an entity, as its live read model showed it, valid from the
-- instant its event was recorded until the next one's. Each table belongs to the projection
-- of its live table and is written in the same transaction, from the live row just written,
-- so `as_of` equals what the live projection showed; a replay rebuilds both together.
-- `state` is the live row as JSON, of the columns each projection names (never a secret such as
-- a password or refresh-secret hash, nor what only observes: a connection test's time, latency
-- and heartbeat); NULL once the entity was removed. An event that changes none of them makes
-- no version (the audit log still lists it).
CREATE TABLE rm_instance_history
(
    id          uuid        NOT NULL,
    sequence    bigint      NOT NULL,
    valid_from  timestamptz NOT NULL,
    -- NULL: still the current version.
    valid_to    timestamptz,
    event_type  text        NOT NULL,
    actor_kind  text,
    actor_id    text,
    actor_name  text,
    state       jsonb,
    PRIMARY KEY (id, sequence)
);
-- "Valid at T" is a range containment: a GiST index on the range answers it without reading
-- the versions before T.
CREATE INDEX rm_instance_history_at ON rm_instance_history
    USING gist (tstzrange(valid_from, valid_to, '[)'));

CREATE TABLE rm_collector_history (LIKE rm_instance_history INCLUDING ALL);
CREATE TABLE rm_user_history (LIKE rm_instance_history INCLUDING ALL);
CREATE TABLE rm_secret_history (LIKE rm_instance_history INCLUDING ALL);
CREATE TABLE rm_alert_rule_history (LIKE rm_instance_history INCLUDING ALL);

-- The audit trail filters by kind and pages by (recorded_at, key).
CREATE INDEX rm_audit_log_actor ON rm_audit_log (actor_name, recorded_at DESC);
