-- Catch-up and lateness (issue 8): a run records whether the timer made it, when its fan-out
-- finished, and how far ingest had got; ingest records, per partition, the latest enqueued
-- time it stored. Rows of earlier runs keep the defaults (not scheduled, fan-out unknown).
IF COL_LENGTH(N'dbo.runs', N'scheduled') IS NULL
ALTER TABLE dbo.runs ADD
    scheduled        BIT    NOT NULL CONSTRAINT df_runs_scheduled DEFAULT 0,
    fanned_out_ms    BIGINT NOT NULL CONSTRAINT df_runs_fanned_out DEFAULT 0,
    ingest_oldest_ms BIGINT NOT NULL CONSTRAINT df_runs_ingest_oldest DEFAULT 0,
    ingest_newest_ms BIGINT NOT NULL CONSTRAINT df_runs_ingest_newest DEFAULT 0;
-- The migration is one batch, compiled before the columns above exist: statements that name them
-- go through EXEC, compiled when they run.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'runs_scheduled_end' AND object_id = OBJECT_ID(N'dbo.runs'))
EXEC(N'CREATE INDEX runs_scheduled_end ON dbo.runs (scheduled, window_end_ms)');

IF OBJECT_ID(N'dbo.ingest_progress', N'U') IS NULL
CREATE TABLE dbo.ingest_progress (
    source      NVARCHAR(300) NOT NULL CONSTRAINT pk_ingest_progress PRIMARY KEY,
    enqueued_ms BIGINT        NOT NULL,
    updated_ms  BIGINT        NOT NULL
);
