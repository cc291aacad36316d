-- Metric storage, written by the metric_samples projection from PGA_METRICS.

-- One row per series. The id is derived from (collector, instance, metric, labels) by the
-- projector (64 bits of SHA-256), so samples can be written without a round trip per series.
CREATE TABLE metric_series
(
    id           bigint PRIMARY KEY,
    collector_id uuid        NOT NULL,
    -- The instance the collector says the batch describes ('' when it does not say).
    instance     text        NOT NULL,
    metric       text        NOT NULL,
    labels       jsonb       NOT NULL,
    -- Cumulative counter: queries compute reset-aware rates over it.
    counter      boolean     NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- The query API looks series up by collector or instance, and metric.
CREATE INDEX metric_series_collector_metric ON metric_series (collector_id, metric);
CREATE INDEX metric_series_instance_metric ON metric_series (instance, metric);

-- Narrow samples, range-partitioned by day (partitions are created ahead by the projector and
-- dropped whole by retention).
CREATE TABLE metric_samples
(
    ts        timestamptz      NOT NULL,
    series_id bigint           NOT NULL,
    value     double precision NOT NULL
) PARTITION BY RANGE (ts);

-- Rollups kept up to date in the same transaction as the samples: a 30-day chart reads hours.
CREATE TABLE metric_rollup_1m
(
    series_id bigint           NOT NULL,
    bucket    timestamptz      NOT NULL,
    min       double precision NOT NULL,
    max       double precision NOT NULL,
    sum       double precision NOT NULL,
    count     bigint           NOT NULL,
    last      double precision NOT NULL,
    last_ts   timestamptz      NOT NULL,
    PRIMARY KEY (series_id, bucket)
);

CREATE TABLE metric_rollup_1h (LIKE metric_rollup_1m INCLUDING ALL);

-- pg_stat_statements texts by collector and query id, for the slow/frequent endpoints.
CREATE TABLE metric_statements
(
    collector_id uuid        NOT NULL,
    queryid      text        NOT NULL,
    query        text        NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (collector_id, queryid)
);

-- Batches already stored (this projection's own dedup, independent of the activity one).
CREATE TABLE metric_applied_batches
(
    batch_id   text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- Series refused by the cardinality guard, per collector, shown on the collector.
CREATE TABLE metric_series_refused
(
    collector_id uuid PRIMARY KEY,
    refused      bigint      NOT NULL,
    last_metric  text        NOT NULL,
    updated_at   timestamptz NOT NULL
);
