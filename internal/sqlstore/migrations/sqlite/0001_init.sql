-- Readings with the identity of the event that carried them: (source, seq, idx) is unique,
-- so a redelivered batch inserts nothing new.
CREATE TABLE IF NOT EXISTS readings (
    source TEXT    NOT NULL,
    seq    INTEGER NOT NULL,
    idx    INTEGER NOT NULL,
    device TEXT    NOT NULL,
    sensor TEXT    NOT NULL,
    ts_ms  INTEGER NOT NULL,
    value  REAL    NOT NULL,
    PRIMARY KEY (source, seq, idx)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS readings_sensor_ts ON readings (device, sensor, ts_ms, value);

CREATE TABLE IF NOT EXISTS runs (
    run_id          TEXT    NOT NULL PRIMARY KEY,
    window_start_ms INTEGER NOT NULL,
    window_end_ms   INTEGER NOT NULL,
    sensors         INTEGER NOT NULL,
    created_ms      INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_created ON runs (created_ms);

CREATE TABLE IF NOT EXISTS outcomes (
    run_id      TEXT    NOT NULL,
    device      TEXT    NOT NULL,
    sensor      TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    [rows]      INTEGER NOT NULL DEFAULT 0,
    anomalies   INTEGER NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    blob        TEXT    NOT NULL DEFAULT '',
    error       TEXT    NOT NULL DEFAULT '',
    updated_ms  INTEGER NOT NULL,
    PRIMARY KEY (run_id, device, sensor)
);
