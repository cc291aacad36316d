-- Collectors, registration secrets and collector activity.

-- Command side: registration secrets are found by the SHA-256 of the presented secret. The
-- secret itself is stored nowhere; it is shown once, in the creation response.
CREATE TABLE registration_secret_lookup
(
    secret_hash text PRIMARY KEY,
    secret_id   uuid NOT NULL UNIQUE
);

-- The collectors projection keeps the SHA-256 of each collector's refresh secret so that the
-- token endpoint can check it; no response ever selects it.
ALTER TABLE rm_collectors ADD COLUMN refresh_secret_hash text NOT NULL DEFAULT '';
-- Activity moved to its own projection (fed by PGA_METRICS): one projection per table set,
-- so that replaying one never drops the other's columns.
ALTER TABLE rm_collectors DROP COLUMN last_seen;
ALTER TABLE rm_collectors DROP COLUMN metrics_count_total;

-- Collector activity, written by the activity projector from metric batches.
CREATE TABLE rm_collector_activity
(
    collector_id        uuid PRIMARY KEY,
    -- When the last batch reached the server (JetStream's publish time).
    last_seen           timestamptz NOT NULL,
    -- Data points, not objects: the old system counted metric families.
    metrics_count_total bigint      NOT NULL DEFAULT 0,
    batches_total       bigint      NOT NULL DEFAULT 0,
    last_instance       text
);

-- Per-minute data-point counts; the 24-hour count is the sum of the last 1440 minutes, so it
-- goes down as time passes. Minutes are those of the batch's collection time.
CREATE TABLE rm_collector_minutes
(
    collector_id uuid        NOT NULL,
    minute       timestamptz NOT NULL,
    samples      bigint      NOT NULL,
    PRIMARY KEY (collector_id, minute)
);

-- Batches already counted, by batch id: a batch that arrives twice (a retry, or over HTTP and
-- then NATS) counts once, even after JetStream's duplicate window.
CREATE TABLE rm_applied_batches
(
    batch_id     text PRIMARY KEY,
    collector_id uuid        NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX rm_applied_batches_applied_at ON rm_applied_batches (applied_at);
