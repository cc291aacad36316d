-- The event store: postgres-es's schema, plus what the relay needs to publish in commit order.
CREATE TABLE events
(
    aggregate_type text                         NOT NULL,
    aggregate_id   text                         NOT NULL,
    sequence       bigint CHECK (sequence >= 0) NOT NULL,
    event_type     text                         NOT NULL,
    event_version  text                         NOT NULL,
    payload        json                         NOT NULL,
    metadata       json                         NOT NULL,
    -- Global order across all aggregates, which the relay follows. A position drawn at insert
    -- time is normally NOT commit order (7 may commit after 8 is visible, and a relay reading
    -- "position > last" would skip 7). Here it is: see events_serialize below.
    position       bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    -- When the store accepted the event; carried to projections and the audit log.
    recorded_at    timestamptz                  NOT NULL DEFAULT now(),
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);

-- Writers of events take one transaction-scoped advisory lock before their first row draws a
-- position (a BEFORE STATEMENT trigger runs before the row's identity default is evaluated).
-- The lock is released only after the commit is visible, so the next writer draws a higher
-- position strictly after: positions become visible in order, gaps are only rollbacks, and
-- "position > checkpoint" never skips. The cost is that event writes are serialized, which is
-- fine for commands (a few per second); metrics never pass through the event store.
-- (Ordering by xid8 under pg_snapshot_xmin was the alternative; it lets any long write
-- transaction anywhere in the cluster stall the relay.)
CREATE FUNCTION pga_events_serialize() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7362981450012);
    RETURN NULL;
END $$;

CREATE TRIGGER events_serialize BEFORE INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION pga_events_serialize();

-- Snapshots, used by postgres-es when snapshotting is enabled for an aggregate.
CREATE TABLE snapshots
(
    aggregate_type   text                                 NOT NULL,
    aggregate_id     text                                 NOT NULL,
    last_sequence    bigint CHECK (last_sequence >= 0)    NOT NULL,
    current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL,
    payload          json                                 NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)
);

-- Where the relay has published up to. One row per relay name (normally one: 'events').
CREATE TABLE relay_checkpoints
(
    relay          text PRIMARY KEY,
    last_position  bigint NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Wakes the relay as soon as an event commits (NOTIFY is delivered at commit), so it does not
-- have to poll tightly; the relay still polls slowly in case a notification is missed.
CREATE FUNCTION pga_notify_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pga_events', '');
    RETURN NULL;
END $$;

CREATE TRIGGER events_notify AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION pga_notify_event();
