-- The fleet overview: one row per instance and collector reporting it (by the name it sends;
-- the overview reads only collectors bound to the managed instance of that name), with
-- the totals of its latest batch, rates from the batch before, and per-minute sparklines of
-- the last hour. Written by the metric samples projection with each batch, so the overview
-- is one query over as many rows as there are instances.
CREATE TABLE rm_fleet
(
    instance          text             NOT NULL,
    collector_id      uuid             NOT NULL,
    -- Collection time of the latest batch.
    sampled_at        timestamptz      NOT NULL,
    -- Sum over databases of backends; the server's max_connections.
    connections       double precision,
    max_connections   double precision,
    -- Sum over databases.
    database_size     double precision,
    -- The largest replay lag a replica reports.
    replication_lag_s double precision,
    -- The latest reading of each series the row is made of, by series ("metric{labels}"):
    -- {"v": value, "t": time, "r": per-second rate of a counter}. Rates and sums come from
    -- these, per series, so a batch split in chunks, a database dropped or a counter reset on
    -- one database does not skew the instance's figures.
    series            jsonb            NOT NULL DEFAULT '{}',
    tps               double precision,
    cache_hit_ratio   double precision,
    -- The minute of the sparklines' last point; one point per minute, at most 60.
    spark_minute      timestamptz,
    spark_tps         double precision[] NOT NULL DEFAULT '{}',
    spark_connections double precision[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (instance, collector_id)
);
