-- Retention: storage upkeep deletes rows past their age every hour. Each index below lets that
-- delete find the old rows without reading the whole table.

-- 1-hour rollups are appended hour after hour, so a BRIN index on the bucket stays small and
-- keeps "older than N days" a range read (the same reasoning as metric_rollup_1m_bucket).
CREATE INDEX metric_rollup_1h_bucket ON metric_rollup_1h USING brin (bucket);

-- Per-minute collector buckets older than 24 hours are deleted; the primary key leads with the
-- collector, so the minute needs its own index.
CREATE INDEX rm_collector_minutes_minute ON rm_collector_minutes (minute);

-- Rejected messages are kept for PGA_REJECTED_RETENTION_DAYS.
CREATE INDEX projection_rejected_rejected_at ON projection_rejected (rejected_at);

-- Sessions are deleted some days after they expired.
CREATE INDEX auth_sessions_expires_at ON auth_sessions (expires_at);
