-- Samples are now read directly (issue 16, item 4): the 1-minute rollup is no longer written
-- with every batch, which cost four to six times the sample's own write. Minutes and the hours
-- upkeep has not built yet are aggregated from the samples while their partition is kept;
-- `metric_rollup_1m` holds only the minutes of partitions that retention dropped (built from
-- each partition just before it is dropped, when PGA_ROLLUP_1M_RETENTION_DAYS is longer than
-- PGA_RETENTION_DAYS), and older rows written by earlier versions until they are pruned.
--
-- A chart reads one series over a time range: a B-tree on (series_id, ts). The hour build and
-- retention read every series of one hour or day: a BRIN on ts, tiny because samples arrive
-- in time order. Both are created on every existing and future daily partition. On a large
-- existing table this migration takes as long as building the index (metric_samples is
-- locked for writes meanwhile; the projectors wait and catch up).
CREATE INDEX metric_samples_series_ts ON metric_samples (series_id, ts);
-- autosummarize: the ranges written since the last vacuum are summarized as they fill, so the
-- hour just closed is found through the index, not by reading the whole day.
CREATE INDEX metric_samples_ts ON metric_samples USING brin (ts) WITH (autosummarize = on);
