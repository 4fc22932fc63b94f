-- Retention (READINGS_RETENTION) deletes readings older than a cutoff in bounded batches: an index on
-- ts_ms finds them without reading the whole table.
CREATE INDEX IF NOT EXISTS readings_ts ON readings (ts_ms);
