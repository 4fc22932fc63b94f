-- The readings table is clustered on the order of the scoring query: a WITHOUT ROWID table whose
-- primary key is (device, sensor, ts_ms, source_id, seq, idx), and no other index. An insert writes
-- one b-tree per reading instead of two (the table keyed by the event identity and an index
-- (device, sensor, ts_ms, value) for Points), Points reads one contiguous range, and retention
-- deletes contiguous ranges. A redelivered or re-cut batch still inserts nothing: an event's bytes
-- give the same readings again, whose keys, identity included, are already there
-- (INSERT OR IGNORE). The migration runs in one transaction: the table is rebuilt and renamed, or
-- nothing changes.
CREATE TABLE readings_clustered (
    source_id INTEGER NOT NULL,
    seq       INTEGER NOT NULL,
    idx       INTEGER NOT NULL,
    device    TEXT    NOT NULL,
    sensor    TEXT    NOT NULL,
    ts_ms     INTEGER NOT NULL,
    value     REAL    NOT NULL,
    PRIMARY KEY (device, sensor, ts_ms, source_id, seq, idx)
) WITHOUT ROWID;
INSERT INTO readings_clustered (source_id, seq, idx, device, sensor, ts_ms, value)
SELECT source_id, seq, idx, device, sensor, ts_ms, value FROM readings
ORDER BY device, sensor, ts_ms, source_id, seq, idx;
DROP TABLE readings;
ALTER TABLE readings_clustered RENAME TO readings;
