-- Metric batches are spread over a fixed number of partitions (one JetStream stream each),
-- chosen when a deployment is set up. Changing it later would move collectors to other
-- partitions, losing their order and JetStream's deduplication, so the first server to start
-- records it and every later one must agree.
CREATE TABLE metric_partitioning
(
    only_row    boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    partitions  integer     NOT NULL CHECK (partitions BETWEEN 1 AND 64),
    recorded_at timestamptz NOT NULL DEFAULT now()
);

-- Processes running projections (`pganalytics serve` or `project`) say they are alive here,
-- so each can take its fair share of the work.
CREATE TABLE projection_workers
(
    worker     uuid PRIMARY KEY,
    host       text        NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    seen_at    timestamptz NOT NULL DEFAULT now()
);

-- Who runs what: one lease per unit of work (the domain-event projections together, and each
-- metric partition with its projections). A lease not renewed before `expires_at` may be taken
-- by another worker. Leases only decide who works; exactly-once effect comes from the
-- checkpoint row, locked by every batch transaction, so two workers briefly running the same
-- unit during a takeover still apply each message once.
CREATE TABLE projection_leases
(
    unit       text PRIMARY KEY,
    owner      uuid,
    expires_at timestamptz NOT NULL DEFAULT '-infinity',
    taken_at   timestamptz
);
