-- Readings are keyed by a small integer per source (namespace/hub/partition) instead of the
-- source text, which the primary key and every index entry repeated (~40 bytes each): the
-- identity (source_id, seq, idx) stays unique, so a redelivered batch still inserts nothing new.
-- The migration runs in one transaction: the table is rebuilt and renamed, or nothing changes.
CREATE TABLE IF NOT EXISTS reading_sources (
    id     INTEGER PRIMARY KEY,
    source TEXT    NOT NULL UNIQUE
);
INSERT OR IGNORE INTO reading_sources (source) SELECT DISTINCT source FROM readings;
CREATE TABLE readings_by_source_id (
    source_id INTEGER NOT NULL,
    seq       INTEGER NOT NULL,
    idx       INTEGER NOT NULL,
    device    TEXT    NOT NULL,
    sensor    TEXT    NOT NULL,
    ts_ms     INTEGER NOT NULL,
    value     REAL    NOT NULL,
    PRIMARY KEY (source_id, seq, idx)
) WITHOUT ROWID;
INSERT INTO readings_by_source_id (source_id, seq, idx, device, sensor, ts_ms, value)
SELECT s.id, r.seq, r.idx, r.device, r.sensor, r.ts_ms, r.value
FROM readings r JOIN reading_sources s ON s.source = r.source;
DROP TABLE readings;
ALTER TABLE readings_by_source_id RENAME TO readings;
CREATE INDEX readings_sensor_ts ON readings (device, sensor, ts_ms, value);
CREATE INDEX readings_ts ON readings (ts_ms);
