-- Every scored sensor reads its recent anomaly rates (AnomalyRates, the model-health check): without
-- an index on the sensor that query read the whole outcomes table, which grows by one row per sensor
-- and run (1,000 sensors hourly: 8.8 million rows a year), once per sensor and run.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'outcomes_sensor' AND object_id = OBJECT_ID(N'dbo.outcomes'))
CREATE INDEX outcomes_sensor ON dbo.outcomes (device, sensor, updated_ms) INCLUDE (status, [rows], anomalies);
