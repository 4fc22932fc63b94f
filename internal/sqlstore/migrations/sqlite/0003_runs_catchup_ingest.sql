-- Catch-up and lateness (issue 8): a run records whether the timer made it, when its fan-out
-- finished, and how far ingest had got; ingest records, per partition, the latest enqueued
-- time it stored. Rows of earlier runs keep the defaults (not scheduled, fan-out unknown).
ALTER TABLE runs ADD COLUMN scheduled        INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN fanned_out_ms    INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN ingest_oldest_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN ingest_newest_ms INTEGER NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS runs_scheduled_end ON runs (scheduled, window_end_ms);

CREATE TABLE IF NOT EXISTS ingest_progress (
    source      TEXT    NOT NULL PRIMARY KEY,
    enqueued_ms INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL
);
