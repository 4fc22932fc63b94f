-- Retention no longer deletes through an index on ts_ms: it walks the (device, sensor) keys of
-- readings_sensor_ts and deletes each sensor's readings before the cutoff through that index
-- (PruneReadings), so no insert pays for a third b-tree per reading any more.
DROP INDEX IF EXISTS readings_ts;
