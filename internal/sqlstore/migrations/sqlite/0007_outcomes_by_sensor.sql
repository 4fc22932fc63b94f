-- Every scored sensor reads its recent anomaly rates (AnomalyRates, the model-health check): without
-- an index on the sensor that query read the whole outcomes table, which grows by one row per sensor
-- and run (1,000 sensors hourly: 8.8 million rows a year), once per sensor and run.
CREATE INDEX IF NOT EXISTS outcomes_sensor ON outcomes (device, sensor, updated_ms);
