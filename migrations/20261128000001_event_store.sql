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
    -- Insertion order across all aggregates. Taken at insert time, so NOT commit order: a
    -- transaction may hold position 7 uncommitted while 8 is already visible.
    position       bigint GENERATED ALWAYS AS IDENTITY,
    -- The inserting transaction. The relay only reads rows whose transaction is older than
    -- the oldest one still running (pg_snapshot_xmin), and orders by (transaction_id,
    -- position): no row can ever appear behind its checkpoint, so none is skipped.
    transaction_id xid8                         NOT NULL DEFAULT pg_current_xact_id(),
    -- When the store accepted the event; carried to projections and the audit log.
    recorded_at    timestamptz                  NOT NULL DEFAULT now(),
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);

-- The relay's scan: (transaction_id, position) > checkpoint, in that order.
CREATE INDEX events_relay_order ON events (transaction_id, position);

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
    last_xid       xid8   NOT NULL,
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
