package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/batchscore/batchscore/internal/sensor"
)

// PutRun registers a run. Registering the same run again updates its window,
// sensor count and ingest mark, keeps its first creation time and its
// fan-out time, and keeps it scheduled once a timer registered it, so a
// duplicated timer run (or a backfill of a scheduled window) is harmless.
func (s *Store) PutRun(ctx context.Context, r sensor.Run) error {
	created := r.Created
	if created.IsZero() {
		created = time.Now()
	}
	q := `INSERT INTO runs (run_id, window_start_ms, window_end_ms, sensors, created_ms, scheduled, ingest_oldest_ms, ingest_newest_ms)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id) DO UPDATE SET window_start_ms = excluded.window_start_ms,
    window_end_ms = excluded.window_end_ms, sensors = excluded.sensors,
    scheduled = MAX(runs.scheduled, excluded.scheduled),
    ingest_oldest_ms = excluded.ingest_oldest_ms, ingest_newest_ms = excluded.ingest_newest_ms`
	if s.d == dialectSQLServer {
		q = `MERGE runs WITH (HOLDLOCK) AS t
USING (SELECT ? AS run_id, CAST(? AS BIGINT) AS ws, CAST(? AS BIGINT) AS we, CAST(? AS INT) AS n, CAST(? AS BIGINT) AS c,
              CAST(? AS BIT) AS sch, CAST(? AS BIGINT) AS io, CAST(? AS BIGINT) AS inw) AS s
ON t.run_id = s.run_id
WHEN MATCHED THEN UPDATE SET window_start_ms = s.ws, window_end_ms = s.we, sensors = s.n,
    scheduled = CASE WHEN t.scheduled = 1 THEN 1 ELSE s.sch END, ingest_oldest_ms = s.io, ingest_newest_ms = s.inw
WHEN NOT MATCHED THEN INSERT (run_id, window_start_ms, window_end_ms, sensors, created_ms, scheduled, ingest_oldest_ms, ingest_newest_ms)
    VALUES (s.run_id, s.ws, s.we, s.n, s.c, s.sch, s.io, s.inw);`
	}
	_, err := s.w.ExecContext(ctx, s.q(q), r.ID, r.Window.Start.UnixMilli(), r.Window.End.UnixMilli(), r.Sensors, created.UnixMilli(),
		r.Scheduled, msOrZero(r.Ingest.Oldest), msOrZero(r.Ingest.Newest))
	if err != nil {
		return fmt.Errorf("put run %s: %w", r.ID, err)
	}
	return nil
}

// runCols are the columns scanRun reads.
const runCols = `run_id, window_start_ms, window_end_ms, sensors, created_ms, scheduled, fanned_out_ms, ingest_oldest_ms, ingest_newest_ms`

// Run returns a registered run; an unknown id gives an error wrapping ErrNotFound.
func (s *Store) Run(ctx context.Context, id string) (sensor.Run, error) {
	row := s.r.QueryRowContext(ctx, s.q(`SELECT `+runCols+` FROM runs WHERE run_id = ?`), id)
	r, err := scanRun(row)
	if err != nil {
		return sensor.Run{}, fmt.Errorf("run %s: %w", id, errNoRows(err))
	}
	return r, nil
}

// LatestRun returns the most recently registered scoring run (by creation
// time, then window end), or with train the most recent run of the train
// function (ids starting with sensor.TrainRunPrefix); with no such run it
// gives an error wrapping ErrNotFound.
func (s *Store) LatestRun(ctx context.Context, train bool) (sensor.Run, error) {
	where := `WHERE run_id NOT LIKE ?`
	if train {
		where = `WHERE run_id LIKE ?`
	}
	q := `SELECT ` + runCols + ` FROM runs ` + where + `
ORDER BY created_ms DESC, window_end_ms DESC, run_id DESC LIMIT 1`
	if s.d == dialectSQLServer {
		q = `SELECT TOP 1 ` + runCols + ` FROM runs ` + where + `
ORDER BY created_ms DESC, window_end_ms DESC, run_id DESC`
	}
	r, err := scanRun(s.r.QueryRowContext(ctx, s.q(q), sensor.TrainRunPrefix+"%"))
	if err != nil {
		return sensor.Run{}, fmt.Errorf("latest run: %w", errNoRows(err))
	}
	return r, nil
}

func scanRun(row *sql.Row) (sensor.Run, error) {
	var (
		r                                       sensor.Run
		start, end, created, fanned, old, newer int64
	)
	if err := row.Scan(&r.ID, &start, &end, &r.Sensors, &created, &r.Scheduled, &fanned, &old, &newer); err != nil {
		return sensor.Run{}, err
	}
	r.Window = sensor.Window{Start: time.UnixMilli(start).UTC(), End: time.UnixMilli(end).UTC()}
	r.Created = time.UnixMilli(created).UTC()
	r.FannedOut, r.Ingest.Oldest, r.Ingest.Newest = timeOrZero(fanned), timeOrZero(old), timeOrZero(newer)
	return r, nil
}

// StartAttempt records that an invocation started scoring key in run: the
// outcome becomes "running" and its attempt count grows by one. It returns the
// new attempt number (1 for the first).
func (s *Store) StartAttempt(ctx context.Context, run string, key sensor.Key) (int, error) {
	now := time.Now().UnixMilli()
	q := `INSERT INTO outcomes (run_id, device, sensor, status, attempts, updated_ms) VALUES (?, ?, ?, ?, 1, ?)
ON CONFLICT (run_id, device, sensor) DO UPDATE SET status = excluded.status,
    attempts = outcomes.attempts + 1, updated_ms = excluded.updated_ms
RETURNING attempts`
	if s.d == dialectSQLServer {
		q = `MERGE outcomes WITH (HOLDLOCK) AS t
USING (SELECT ? AS run_id, ? AS device, ? AS sensor, ? AS status, CAST(? AS BIGINT) AS u) AS s
ON t.run_id = s.run_id AND t.device = s.device AND t.sensor = s.sensor
WHEN MATCHED THEN UPDATE SET status = s.status, attempts = t.attempts + 1, updated_ms = s.u
WHEN NOT MATCHED THEN INSERT (run_id, device, sensor, status, attempts, updated_ms) VALUES (s.run_id, s.device, s.sensor, s.status, 1, s.u)
OUTPUT inserted.attempts;`
	}
	var attempts int
	st, _ := s.prepared(ctx, s.w, q) // when it fails, the statement runs unprepared and fails there
	err := s.tx(ctx, func(tx *sql.Tx) error {
		return s.txQueryRow(ctx, tx, st, q, run, key.Device, key.Sensor, sensor.StatusRunning, now).Scan(&attempts)
	})
	if err != nil {
		return 0, fmt.Errorf("start attempt %s %s: %w", run, key, err)
	}
	return attempts, nil
}

// FinishOutcome records the result of an attempt (done, empty, failed or
// poisoned) with its counts, duration, blob, model ETag and error. The attempt
// count kept is the larger of the stored one and o.Attempts (at least 1 for a
// new row).
func (s *Store) FinishOutcome(ctx context.Context, o sensor.Outcome) error {
	updated := o.Updated
	if updated.IsZero() {
		updated = time.Now()
	}
	q := `INSERT INTO outcomes (run_id, device, sensor, status, [rows], anomalies, attempts, duration_ms, blob, model_etag, error, updated_ms)
VALUES (?, ?, ?, ?, ?, ?, MAX(?, 1), ?, ?, ?, ?, ?)
ON CONFLICT (run_id, device, sensor) DO UPDATE SET status = excluded.status, [rows] = excluded.[rows],
    anomalies = excluded.anomalies, attempts = MAX(outcomes.attempts, excluded.attempts),
    duration_ms = excluded.duration_ms, blob = excluded.blob, model_etag = excluded.model_etag,
    error = excluded.error, updated_ms = excluded.updated_ms`
	if s.d == dialectSQLServer {
		q = `MERGE outcomes WITH (HOLDLOCK) AS t
USING (SELECT ? AS run_id, ? AS device, ? AS sensor, ? AS status, CAST(? AS INT) AS r, CAST(? AS INT) AS a,
              CAST(? AS INT) AS n, CAST(? AS BIGINT) AS d, ? AS blob, ? AS model_etag, ? AS error, CAST(? AS BIGINT) AS u) AS s
ON t.run_id = s.run_id AND t.device = s.device AND t.sensor = s.sensor
WHEN MATCHED THEN UPDATE SET status = s.status, [rows] = s.r, anomalies = s.a,
    attempts = CASE WHEN t.attempts > s.n THEN t.attempts ELSE s.n END,
    duration_ms = s.d, blob = s.blob, model_etag = s.model_etag, error = s.error, updated_ms = s.u
WHEN NOT MATCHED THEN INSERT (run_id, device, sensor, status, [rows], anomalies, attempts, duration_ms, blob, model_etag, error, updated_ms)
    VALUES (s.run_id, s.device, s.sensor, s.status, s.r, s.a, CASE WHEN s.n > 1 THEN s.n ELSE 1 END, s.d, s.blob, s.model_etag, s.error, s.u);`
	}
	_, err := s.exec(ctx, s.w, q, o.Run, o.Key.Device, o.Key.Sensor, o.Status, o.Rows, o.Anomalies,
		o.Attempts, o.Duration.Milliseconds(), o.Blob, o.ModelETag, o.Error, updated.UnixMilli())
	if err != nil {
		return fmt.Errorf("finish outcome %s %s: %w", o.Run, o.Key, err)
	}
	return nil
}

// MarkPoisoned records that the message holding key in run reached the poison
// queue: an outcome that is not final (failed, running, or none at all)
// becomes poisoned with reason, followed by the last recorded error if there
// was one; a final one (done, empty, poisoned) is left alone. A new row counts
// no attempt. It reports whether a row changed, so marking twice is harmless.
func (s *Store) MarkPoisoned(ctx context.Context, run string, key sensor.Key, reason string) (bool, error) {
	q := `INSERT INTO outcomes (run_id, device, sensor, status, attempts, error, updated_ms) VALUES (?, ?, ?, ?, 0, ?, ?)
ON CONFLICT (run_id, device, sensor) DO UPDATE SET status = excluded.status,
    error = CASE WHEN outcomes.error = '' THEN excluded.error ELSE excluded.error || '; last recorded error: ' || outcomes.error END,
    updated_ms = excluded.updated_ms
WHERE outcomes.status NOT IN (?, ?, ?)`
	if s.d == dialectSQLServer {
		q = `MERGE outcomes WITH (HOLDLOCK) AS t
USING (SELECT ? AS run_id, ? AS device, ? AS sensor, ? AS status, ? AS error, CAST(? AS BIGINT) AS u) AS s
ON t.run_id = s.run_id AND t.device = s.device AND t.sensor = s.sensor
WHEN MATCHED AND t.status NOT IN (?, ?, ?) THEN UPDATE SET status = s.status,
    error = CASE WHEN t.error = N'' THEN s.error ELSE s.error + N'; last recorded error: ' + t.error END,
    updated_ms = s.u
WHEN NOT MATCHED THEN INSERT (run_id, device, sensor, status, attempts, error, updated_ms)
    VALUES (s.run_id, s.device, s.sensor, s.status, 0, s.error, s.u);`
	}
	res, err := s.w.ExecContext(ctx, s.q(q), run, key.Device, key.Sensor, sensor.StatusPoisoned, reason, time.Now().UnixMilli(),
		sensor.StatusDone, sensor.StatusEmpty, sensor.StatusPoisoned)
	if err != nil {
		return false, fmt.Errorf("mark poisoned %s %s: %w", run, key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("mark poisoned %s %s: %w", run, key, err)
	}
	return n > 0, nil
}

const outcomeCols = `run_id, device, sensor, status, [rows], anomalies, attempts, duration_ms, blob, model_etag, error, updated_ms`

// Outcome returns the outcome of key in run; ok is false when there is none.
func (s *Store) Outcome(ctx context.Context, run string, key sensor.Key) (o sensor.Outcome, ok bool, err error) {
	outs, err := s.outcomes(ctx, `SELECT `+outcomeCols+` FROM outcomes WHERE run_id = ? AND device = ? AND sensor = ?`, run, key.Device, key.Sensor)
	if err != nil || len(outs) == 0 {
		return sensor.Outcome{}, false, err
	}
	return outs[0], true, nil
}

// Outcomes returns every outcome of run, ordered by device and sensor.
func (s *Store) Outcomes(ctx context.Context, run string) ([]sensor.Outcome, error) {
	return s.outcomes(ctx, `SELECT `+outcomeCols+` FROM outcomes WHERE run_id = ? ORDER BY device, sensor`, run)
}

func (s *Store) outcomes(ctx context.Context, q string, args ...any) ([]sensor.Outcome, error) {
	rows, err := s.r.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("outcomes: %w", err)
	}
	defer rows.Close()
	var out []sensor.Outcome
	for rows.Next() {
		var (
			o           sensor.Outcome
			dur, update int64
		)
		if err := rows.Scan(&o.Run, &o.Key.Device, &o.Key.Sensor, &o.Status, &o.Rows, &o.Anomalies, &o.Attempts,
			&dur, &o.Blob, &o.ModelETag, &o.Error, &update); err != nil {
			return nil, fmt.Errorf("outcomes: scan: %w", err)
		}
		o.Duration = time.Duration(dur) * time.Millisecond
		o.Updated = time.UnixMilli(update).UTC()
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outcomes: %w", err)
	}
	return out, nil
}

// SlowestN is how many outcomes Summary.Slowest holds.
const SlowestN = 5

// Summary is the progress of one run.
type Summary struct {
	Run       sensor.Run `json:"run"`
	Total     int        `json:"total"` // sensors enqueued (or outcomes seen, if more)
	Done      int        `json:"done"`
	Empty     int        `json:"empty"`
	Failed    int        `json:"failed"`
	Poisoned  int        `json:"poisoned"`
	Running   int        `json:"running"`
	Pending   int        `json:"pending"`   // enqueued sensors with no outcome yet
	Rows      int        `json:"rows"`      // scored rows over all outcomes
	Anomalies int        `json:"anomalies"` // anomalies over all outcomes
	// Slowest are the SlowestN done outcomes with the longest duration, slowest first.
	Slowest []sensor.Outcome `json:"slowest"`
}

// RunSummary counts the outcomes of run by status. An unknown run gives an error wrapping ErrNotFound.
func (s *Store) RunSummary(ctx context.Context, run string) (Summary, error) {
	r, err := s.Run(ctx, run)
	if err != nil {
		return Summary{}, fmt.Errorf("run summary: %w", err)
	}
	sum := Summary{Run: r}
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT status, COUNT(*), COALESCE(SUM([rows]), 0), COALESCE(SUM(anomalies), 0)
FROM outcomes WHERE run_id = ? GROUP BY status`), run)
	if err != nil {
		return Summary{}, fmt.Errorf("run summary %s: %w", run, err)
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var (
			status          string
			n, nrows, nanom int
		)
		if err := rows.Scan(&status, &n, &nrows, &nanom); err != nil {
			return Summary{}, fmt.Errorf("run summary %s: scan: %w", run, err)
		}
		seen += n
		sum.Rows += nrows
		sum.Anomalies += nanom
		switch status {
		case sensor.StatusDone:
			sum.Done += n
		case sensor.StatusEmpty:
			sum.Empty += n
		case sensor.StatusFailed:
			sum.Failed += n
		case sensor.StatusPoisoned:
			sum.Poisoned += n
		case sensor.StatusRunning:
			sum.Running += n
		}
	}
	if err := rows.Err(); err != nil {
		return Summary{}, fmt.Errorf("run summary %s: %w", run, err)
	}
	sum.Total = max(r.Sensors, seen)
	sum.Pending = sum.Total - seen
	q := `SELECT ` + outcomeCols + ` FROM outcomes WHERE run_id = ? AND status = ? ORDER BY duration_ms DESC, device, sensor LIMIT ?`
	if s.d == dialectSQLServer {
		q = `SELECT TOP (?) ` + outcomeCols + ` FROM outcomes WHERE run_id = ? AND status = ? ORDER BY duration_ms DESC, device, sensor`
		sum.Slowest, err = s.outcomes(ctx, q, SlowestN, run, sensor.StatusDone)
	} else {
		sum.Slowest, err = s.outcomes(ctx, q, run, sensor.StatusDone, SlowestN)
	}
	if err != nil {
		return Summary{}, fmt.Errorf("run summary %s: slowest: %w", run, err)
	}
	return sum, nil
}

// anomalyRatesSQLite is AnomalyRates' query on SQLite. Every scored sensor
// runs it once, so it must not read the whole outcomes table, which grows by
// one row per sensor and run (an index on (device, sensor, updated_ms), migration
// 0007).
const anomalyRatesSQLite = `SELECT [rows], anomalies FROM outcomes WHERE device = ? AND sensor = ? AND run_id <> ? AND status = ? AND [rows] > 0
ORDER BY updated_ms DESC LIMIT ?`

// AnomalyRates returns the anomaly rates (anomalies / rows) of key's done
// outcomes in runs other than exceptRun, newest first, at most n: the history
// model health judges a run's rate against.
func (s *Store) AnomalyRates(ctx context.Context, key sensor.Key, exceptRun string, n int) ([]float64, error) {
	q := anomalyRatesSQLite
	args := []any{key.Device, key.Sensor, exceptRun, sensor.StatusDone, n}
	if s.d == dialectSQLServer {
		q = `SELECT TOP (?) [rows], anomalies FROM outcomes WHERE device = ? AND sensor = ? AND run_id <> ? AND status = ? AND [rows] > 0
ORDER BY updated_ms DESC`
		args = append([]any{n}, args[:4]...)
	}
	rows, err := s.query(ctx, s.r, q, args...)
	if err != nil {
		return nil, fmt.Errorf("anomaly rates of %s: %w", key, err)
	}
	defer rows.Close()
	var out []float64
	for rows.Next() {
		var nrows, anom int
		if err := rows.Scan(&nrows, &anom); err != nil {
			return nil, fmt.Errorf("anomaly rates of %s: scan: %w", key, err)
		}
		out = append(out, float64(anom)/float64(nrows))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("anomaly rates of %s: %w", key, err)
	}
	return out, nil
}
