-- Readings are keyed by a small integer per source (namespace/hub/partition) instead of the
-- NVARCHAR(300) source text, which the nonclustered primary key repeated in every entry: the
-- identity (source_id, seq, idx) stays unique, so a redelivered batch still inserts nothing new.
--
-- Each step is guarded, so the migration can run again after an interruption. Statements that
-- name the new column run through EXEC, so the batch compiles before the column exists. On a
-- large table the column update rewrites every row under a schema lock: apply it at a quiet time
-- (ingest retries meanwhile; nothing is lost).
IF OBJECT_ID(N'dbo.reading_sources', N'U') IS NULL
CREATE TABLE dbo.reading_sources (
    id     INT IDENTITY(1,1) NOT NULL CONSTRAINT pk_reading_sources PRIMARY KEY,
    source NVARCHAR(300)     NOT NULL CONSTRAINT uq_reading_sources_source UNIQUE
);

IF COL_LENGTH(N'dbo.readings', N'source_id') IS NULL
ALTER TABLE dbo.readings ADD source_id INT NULL;

IF COL_LENGTH(N'dbo.readings', N'source') IS NOT NULL
EXEC (N'INSERT INTO dbo.reading_sources (source)
SELECT DISTINCT r.source FROM dbo.readings r
WHERE NOT EXISTS (SELECT 1 FROM dbo.reading_sources s WHERE s.source = r.source);
UPDATE r SET r.source_id = s.id
FROM dbo.readings r JOIN dbo.reading_sources s ON s.source = r.source
WHERE r.source_id IS NULL;');

IF COL_LENGTH(N'dbo.readings', N'source') IS NOT NULL
   AND EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'pk_readings' AND object_id = OBJECT_ID(N'dbo.readings'))
ALTER TABLE dbo.readings DROP CONSTRAINT pk_readings;

IF COL_LENGTH(N'dbo.readings', N'source') IS NOT NULL
EXEC (N'ALTER TABLE dbo.readings DROP COLUMN source;');

IF EXISTS (SELECT 1 FROM sys.columns WHERE object_id = OBJECT_ID(N'dbo.readings') AND name = N'source_id' AND is_nullable = 1)
EXEC (N'ALTER TABLE dbo.readings ALTER COLUMN source_id INT NOT NULL;');

IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'pk_readings' AND object_id = OBJECT_ID(N'dbo.readings'))
EXEC (N'ALTER TABLE dbo.readings ADD CONSTRAINT pk_readings PRIMARY KEY NONCLUSTERED (source_id, seq, idx);');
