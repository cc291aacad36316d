-- Reliability of the pipeline: a poison message is kept with its real cause, an event that
-- arrives ahead of its predecessor waits for it, a stuck relay says so, and batches are
-- deduplicated per collector.

-- What PostgreSQL said when a message was refused by the database (empty for other reasons),
-- and which collector and batch it came from (metric batches only), so an operator can tell a
-- collector what to fix.
ALTER TABLE projection_rejected
    ADD COLUMN sqlstate     text,
    ADD COLUMN collector_id text,
    ADD COLUMN batch_id     text;

-- Events that arrived before an earlier event of the same aggregate (a re-publish after a
-- failed acknowledgement can put event k behind k+1 on the stream). They wait here, already
-- acknowledged, and are applied the moment the missing one is; one that waits long is a gap
-- shown by /health, never skipped.
CREATE TABLE projection_parked
(
    projection      text        NOT NULL,
    aggregate_type  text        NOT NULL,
    aggregate_id    text        NOT NULL,
    sequence        bigint      NOT NULL,
    stream_sequence bigint      NOT NULL,
    subject         text        NOT NULL,
    -- The message as it came (bytes, not jsonb: jsonb refuses some valid JSON, e.g. \u0000).
    payload         bytea       NOT NULL,
    parked_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, aggregate_type, aggregate_id, sequence)
);

-- The relay's last failure, kept while it lasts: /health answers 503 naming the position and
-- the reason instead of the relay retrying silently (the relay may run in another process).
ALTER TABLE relay_checkpoints
    ADD COLUMN failing_position bigint,
    ADD COLUMN failing_reason   text,
    ADD COLUMN failing_since    timestamptz;

-- Dedup by (collector, batch id): a batch id is the collector's own idempotency key, so one
-- collector reusing another's id must not suppress the other's batch.
ALTER TABLE metric_applied_batches ADD COLUMN collector_id uuid;
-- Older rows take their collector from the activity projection's record of the same batch.
UPDATE metric_applied_batches m
   SET collector_id = coalesce((SELECT r.collector_id FROM rm_applied_batches r
                                 WHERE r.batch_id = m.batch_id),
                               '00000000-0000-0000-0000-000000000000');
ALTER TABLE metric_applied_batches
    ALTER COLUMN collector_id SET NOT NULL,
    DROP CONSTRAINT metric_applied_batches_pkey,
    ADD PRIMARY KEY (collector_id, batch_id);
-- For pruning by age.
CREATE INDEX metric_applied_batches_applied_at ON metric_applied_batches (applied_at);

ALTER TABLE rm_applied_batches
    DROP CONSTRAINT rm_applied_batches_pkey,
    ADD PRIMARY KEY (collector_id, batch_id);
