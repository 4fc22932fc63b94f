-- The readings table was clustered on its primary key (source, seq, idx): a key of up to ~600 bytes
-- (NVARCHAR(300) source) that every nonclustered index row repeats as its row locator, in an order
-- no query reads. It is now clustered on (device, sensor, ts_ms), the order of the scoring query
-- (one sensor's readings of a time range, which a window end only groups), so that query reads one
-- contiguous range and needs no covering index; the event identity keeps its uniqueness as a
-- nonclustered primary key, and retention deletes through an index on ts_ms.
--
-- Each step is guarded, so the migration can run again after an interruption. On a large table the
-- conversion rebuilds it twice (to a heap, then clustered) under a schema lock: apply it at a quiet
-- time (ingest retries meanwhile; nothing is lost).
IF EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'readings_sensor_ts' AND object_id = OBJECT_ID(N'dbo.readings'))
DROP INDEX readings_sensor_ts ON dbo.readings;

IF EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'pk_readings' AND object_id = OBJECT_ID(N'dbo.readings') AND type_desc = N'CLUSTERED')
ALTER TABLE dbo.readings DROP CONSTRAINT pk_readings;

IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'readings_cluster' AND object_id = OBJECT_ID(N'dbo.readings'))
CREATE CLUSTERED INDEX readings_cluster ON dbo.readings (device, sensor, ts_ms);

IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'pk_readings' AND object_id = OBJECT_ID(N'dbo.readings'))
ALTER TABLE dbo.readings ADD CONSTRAINT pk_readings PRIMARY KEY NONCLUSTERED (source, seq, idx);

IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'readings_ts' AND object_id = OBJECT_ID(N'dbo.readings'))
CREATE INDEX readings_ts ON dbo.readings (ts_ms);
