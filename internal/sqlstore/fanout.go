package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/batchscore/batchscore/internal/sensor"
)

// FinishFanOut records that every message of run id was enqueued at at.
func (s *Store) FinishFanOut(ctx context.Context, id string, at time.Time) error {
	res, err := s.w.ExecContext(ctx, s.q(`UPDATE runs SET fanned_out_ms = ? WHERE run_id = ?`), at.UnixMilli(), id)
	if err != nil {
		return fmt.Errorf("finish fan-out %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("finish fan-out %s: %w", id, ErrNotFound)
	}
	return nil
}

// LastScheduledRun returns the scheduled run with the latest window end whose
// fan-out finished; ok is false when there is none.
func (s *Store) LastScheduledRun(ctx context.Context) (sensor.Run, bool, error) {
	q := `SELECT ` + runCols + ` FROM runs WHERE scheduled = 1 AND fanned_out_ms > 0
ORDER BY window_end_ms DESC, run_id DESC LIMIT 1`
	if s.d == dialectSQLServer {
		q = `SELECT TOP 1 ` + runCols + ` FROM runs WHERE scheduled = 1 AND fanned_out_ms > 0
ORDER BY window_end_ms DESC, run_id DESC`
	}
	r, err := scanRun(s.r.QueryRowContext(ctx, q))
	if err == sql.ErrNoRows {
		return sensor.Run{}, false, nil
	}
	if err != nil {
		return sensor.Run{}, false, fmt.Errorf("last scheduled run: %w", err)
	}
	return r, true, nil
}

// OldestUnscoredRun returns, of the runs registered (created) at or after
// since whose sensors do not all have a final outcome (done, empty,
// poisoned), the one with the earliest window start; ok is false when there
// is none. Retention keeps the readings of its window (timerfanout).
func (s *Store) OldestUnscoredRun(ctx context.Context, since time.Time) (sensor.Run, bool, error) {
	where := ` FROM runs r WHERE r.created_ms >= ? AND r.sensors > (SELECT COUNT(*) FROM outcomes o
WHERE o.run_id = r.run_id AND o.status IN (?, ?, ?))
ORDER BY r.window_start_ms, r.run_id`
	q := `SELECT ` + runCols + where + ` LIMIT 1`
	if s.d == dialectSQLServer {
		q = `SELECT TOP 1 ` + runCols + where
	}
	r, err := scanRun(s.r.QueryRowContext(ctx, s.q(q), since.UnixMilli(), sensor.StatusDone, sensor.StatusEmpty, sensor.StatusPoisoned))
	if err == sql.ErrNoRows {
		return sensor.Run{}, false, nil
	}
	if err != nil {
		return sensor.Run{}, false, fmt.Errorf("oldest unscored run: %w", err)
	}
	return r, true, nil
}

// RecordIngest records that ingest stored the events of source (an Event
// Hubs partition) up to the enqueued time enqueued. The stored time only
// moves forwards, so a redelivered older batch changes nothing.
func (s *Store) RecordIngest(ctx context.Context, source string, enqueued time.Time) error {
	q := `INSERT INTO ingest_progress (source, enqueued_ms, updated_ms) VALUES (?, ?, ?)
ON CONFLICT (source) DO UPDATE SET enqueued_ms = MAX(ingest_progress.enqueued_ms, excluded.enqueued_ms),
    updated_ms = excluded.updated_ms`
	if s.d == dialectSQLServer {
		q = `MERGE ingest_progress WITH (HOLDLOCK) AS t
USING (SELECT CAST(? AS NVARCHAR(300)) AS source, CAST(? AS BIGINT) AS e, CAST(? AS BIGINT) AS u) AS s
ON t.source = s.source
WHEN MATCHED THEN UPDATE SET enqueued_ms = CASE WHEN t.enqueued_ms > s.e THEN t.enqueued_ms ELSE s.e END, updated_ms = s.u
WHEN NOT MATCHED THEN INSERT (source, enqueued_ms, updated_ms) VALUES (s.source, s.e, s.u);`
	}
	if _, err := s.w.ExecContext(ctx, s.q(q), source, enqueued.UnixMilli(), time.Now().UnixMilli()); err != nil {
		return fmt.Errorf("record ingest %s: %w", source, err)
	}
	return nil
}

// ActivePartition is how recently a partition must have had a batch stored
// to count in IngestMark: one quiet for longer is idle or retired (a hub
// recreated in another namespace), and would hold the mark back for good.
const ActivePartition = 24 * time.Hour

// IngestMark returns how far ingest has got (see sensor.IngestMark), over the
// partitions that had a batch stored within ActivePartition.
func (s *Store) IngestMark(ctx context.Context) (sensor.IngestMark, error) {
	var oldest, newest sql.NullInt64
	since := time.Now().Add(-ActivePartition).UnixMilli()
	if err := s.r.QueryRowContext(ctx, s.q(`SELECT MIN(enqueued_ms), MAX(enqueued_ms) FROM ingest_progress WHERE updated_ms >= ?`), since).Scan(&oldest, &newest); err != nil {
		return sensor.IngestMark{}, fmt.Errorf("ingest mark: %w", err)
	}
	return sensor.IngestMark{Oldest: timeOrZero(oldest.Int64), Newest: timeOrZero(newest.Int64)}, nil
}

// msOrZero stores the zero time as 0.
func msOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// timeOrZero reads 0 as the zero time.
func timeOrZero(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
