-- One-hour rollups are no longer upserted with every batch (2 million row updates a minute for a
-- fleet of 1,000 collectors): storage upkeep builds each hour once it has closed, set-based from
-- the 1-minute rollups, and recomputes hours that late batches touched afterwards. The query API
-- aggregates hours not built yet from the 1-minute rollups.

-- How far hours are built: every hour before `hours_done_until` is in metric_rollup_1h (save
-- those listed in metric_rollup_dirty_hours, recomputed on the next upkeep). No row: none yet.
CREATE TABLE metric_rollup_state
(
    id               boolean PRIMARY KEY DEFAULT true CHECK (id),
    hours_done_until timestamptz NOT NULL
);

-- Closed hours that received data after they were (or may have been) built.
CREATE TABLE metric_rollup_dirty_hours
(
    hour timestamptz PRIMARY KEY
);

-- Building an hour reads all 1-minute rows of that hour: a BRIN index on the bucket, which grows
-- with time as rows are appended, keeps that a range read.
CREATE INDEX metric_rollup_1m_bucket ON metric_rollup_1m USING brin (bucket);
