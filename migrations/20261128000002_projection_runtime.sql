-- The projector runtime's own bookkeeping, written in the same transaction as the read models.

-- Last JetStream stream sequence applied per projection. A redelivered message at or below it
-- is acknowledged and ignored: exactly-once effect on at-least-once delivery.
CREATE TABLE projection_checkpoints
(
    projection      text PRIMARY KEY,
    stream_sequence bigint      NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Last aggregate sequence applied per projection and aggregate. Two uses: an event republished
-- after JetStream's duplicate window (a new stream sequence) is still applied once; and a
-- command endpoint waits on it to give its caller read-your-writes.
CREATE TABLE projection_positions
(
    projection     text   NOT NULL,
    aggregate_type text   NOT NULL,
    aggregate_id   text   NOT NULL,
    sequence       bigint NOT NULL,
    PRIMARY KEY (projection, aggregate_type, aggregate_id)
);

-- Messages a projection could not apply (malformed, unknown event, failed verification): kept
-- with the reason and acknowledged so they never block the consumer, never applied.
CREATE TABLE projection_rejected
(
    projection      text        NOT NULL,
    stream_sequence bigint      NOT NULL,
    subject         text        NOT NULL,
    reason          text        NOT NULL,
    payload         text        NOT NULL,
    rejected_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, stream_sequence)
);
