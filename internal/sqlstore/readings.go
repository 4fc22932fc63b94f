package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/batchscore/batchscore/internal/sensor"
)

// Rows per multi-row INSERT: SQLite allows 32766 parameters, SQL Server 2100
// (7 columns each, so at most 299 rows).
const (
	sqliteBatch    = 500
	sqlserverBatch = 290
)

// InsertReadings stores readings in one transaction and returns how many were
// new. A reading whose (Source, Sequence, Index) is already stored, or repeated
// within rs, is ignored, so a redelivered or re-cut event batch inserts
// nothing. On SQLite the key is the reading's (Device, Sensor, TS) with that
// identity (the table is clustered on it, with no second index to check the
// identity alone): an event's bytes give the same readings on every delivery,
// so that is the same for redeliveries, but a reading stored under an
// identity that another key already has is kept (see docs/storage.md). A NaN,
// infinite or subnormal value (SQL Server's float range is 0 and magnitudes
// 2.23e-308 to 1.79e+308) fails the whole call before anything is written, on
// both dialects.
func (s *Store) InsertReadings(ctx context.Context, rs []sensor.StoredReading) (int, error) {
	if len(rs) == 0 {
		return 0, nil
	}
	for i, r := range rs {
		// SQLite stores NaN as NULL, SQL Server rejects NaN, infinities and
		// subnormals: say so before the batch fails.
		if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
			return 0, fmt.Errorf("insert readings: reading %d (%s %s/%d/%d) has non-finite value %g", i, r.Key, r.Source, r.Sequence, r.Index, r.Value)
		}
		if r.Value != 0 && math.Abs(r.Value) < 0x1p-1022 {
			return 0, fmt.Errorf("insert readings: reading %d (%s %s/%d/%d) has subnormal value %g, outside SQL float's range", i, r.Key, r.Source, r.Sequence, r.Index, r.Value)
		}
	}
	ids := make([]int64, len(rs))
	for i, r := range rs {
		if i > 0 && r.Source == rs[i-1].Source {
			ids[i] = ids[i-1]
			continue
		}
		id, err := s.sourceID(ctx, r.Source)
		if err != nil {
			return 0, err
		}
		ids[i] = id
	}
	inserted := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		inserted = 0
		rs, ids := rs, ids
		if s.d == dialectSQLServer {
			rs, ids = dedupe(rs, ids)
		}
		batch := sqliteBatch
		if s.d == dialectSQLServer {
			batch = sqlserverBatch
		}
		var full *sql.Stmt // prepared once for the full-size batches
		defer func() {
			if full != nil {
				full.Close()
			}
		}()
		args := make([]any, 0, 7*batch)
		for start := 0; start < len(rs); start += batch {
			part := rs[start:min(start+batch, len(rs))]
			args = args[:0]
			for i, r := range part {
				args = append(args, ids[start+i], r.Sequence, r.Index, r.Key.Device, r.Key.Sensor, r.TS.UnixMilli(), r.Value)
			}
			var (
				res sql.Result
				err error
			)
			if len(part) == batch {
				if full == nil {
					if full, err = tx.PrepareContext(ctx, s.insertReadingsSQL(batch)); err != nil {
						return fmt.Errorf("prepare insert readings: %w", err)
					}
				}
				res, err = full.ExecContext(ctx, args...)
			} else {
				res, err = tx.ExecContext(ctx, s.insertReadingsSQL(len(part)), args...)
			}
			if err != nil {
				return fmt.Errorf("insert readings: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("insert readings: rows affected: %w", err)
			}
			inserted += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return inserted, nil
}

func (s *Store) insertReadingsSQL(n int) string {
	var b strings.Builder
	tuple := "(?, ?, ?, ?, ?, ?, ?)"
	if s.d == dialectSQLServer {
		b.WriteString(`INSERT INTO readings (source_id, seq, idx, device, sensor, ts_ms, value)
SELECT v.source_id, v.seq, v.idx, v.device, v.sensor, v.ts_ms, v.value FROM (VALUES `)
		for i := range n {
			if i > 0 {
				b.WriteString(", ")
			}
			// Typed so that every row has the column types of the table.
			fmt.Fprintf(&b, "(CAST(@p%d AS INT), CAST(@p%d AS BIGINT), CAST(@p%d AS INT), CAST(@p%d AS NVARCHAR(64)), CAST(@p%d AS NVARCHAR(64)), CAST(@p%d AS BIGINT), CAST(@p%d AS FLOAT))",
				7*i+1, 7*i+2, 7*i+3, 7*i+4, 7*i+5, 7*i+6, 7*i+7)
		}
		b.WriteString(`) AS v (source_id, seq, idx, device, sensor, ts_ms, value)
WHERE NOT EXISTS (SELECT 1 FROM readings r WITH (UPDLOCK, HOLDLOCK)
                  WHERE r.source_id = v.source_id AND r.seq = v.seq AND r.idx = v.idx)`)
		return b.String()
	}
	b.WriteString("INSERT OR IGNORE INTO readings (source_id, seq, idx, device, sensor, ts_ms, value) VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(tuple)
	}
	return b.String()
}

// dedupe drops readings whose identity appeared earlier in rs, with their
// source ids (SQL Server's INSERT ... WHERE NOT EXISTS does not see rows of
// the same statement).
func dedupe(rs []sensor.StoredReading, ids []int64) ([]sensor.StoredReading, []int64) {
	type id struct {
		source int64
		seq    int64
		idx    int
	}
	seen := make(map[id]bool, len(rs))
	out, outIDs := rs[:0:0], ids[:0:0]
	for i, r := range rs {
		k := id{ids[i], r.Sequence, r.Index}
		if seen[k] {
			continue
		}
		seen[k] = true
		out, outIDs = append(out, r), append(outIDs, ids[i])
	}
	return out, outIDs
}

// sourceID returns the id of source in reading_sources, adding it when new.
// Ids are never reused or changed, so they are cached for the Store's life.
func (s *Store) sourceID(ctx context.Context, source string) (int64, error) {
	if id, ok := s.sources.Load(source); ok {
		return id.(int64), nil
	}
	insert := `INSERT OR IGNORE INTO reading_sources (source) VALUES (?)`
	args := []any{source}
	if s.d == dialectSQLServer {
		insert = `INSERT INTO reading_sources (source) SELECT CAST(? AS NVARCHAR(300))
WHERE NOT EXISTS (SELECT 1 FROM reading_sources WITH (UPDLOCK, HOLDLOCK) WHERE source = ?)`
		args = append(args, source)
	}
	var id int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(insert), args...); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, s.q(`SELECT id FROM reading_sources WHERE source = ?`), source).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("insert readings: source %s: %w", source, err)
	}
	s.sources.Store(source, id)
	return id, nil
}

// Points returns the window averages of one sensor for the scoring window w, with
// tumbling windows of the given width, ordered by window end. It is the Stream
// Analytics TumblingWindow rule:
//
//	window_end = ((ts_ms + width - 1) / width) * width   (integer division, ts_ms > 0)
//
// so a reading at exactly T belongs to the window (T-width, T]. The points
// returned are those whose window end lies in (w.Start, w.End]; with bounds
// aligned to width that is every reading with w.Start < ts <= w.End.
//
// SQL Server computes the averages (pointsSQL). On SQLite the readings are read
// in the table's order and averaged here with SQLite's own AVG arithmetic
// (sqliteAvg), which gives the same bits as pointsSQL at a third of its cost:
// SQLite groups by an expression through a temporary b-tree, inserting and
// reading back every reading (docs/speed.md, "Scoring").
func (s *Store) Points(ctx context.Context, key sensor.Key, w sensor.Window, width time.Duration) ([]sensor.Point, error) {
	wm := width.Milliseconds()
	if wm <= 0 {
		return nil, fmt.Errorf("points %s: window width %s is not a positive number of milliseconds", key, width)
	}
	if err := w.Validate(); err != nil {
		return nil, fmt.Errorf("points %s: %w", key, err)
	}
	// window_end(ts) > S  <=>  ts > floor(S/w)*w ;  window_end(ts) <= E  <=>  ts <= floor(E/w)*w
	lo := floorDiv(w.Start.UnixMilli(), wm) * wm
	hi := floorDiv(w.End.UnixMilli(), wm) * wm
	var (
		out []sensor.Point
		err error
	)
	if s.d == dialectSQLite {
		out, err = s.sqlitePoints(ctx, key, wm, lo, hi)
	} else {
		out, err = s.queryPoints(ctx, key, wm, lo, hi)
	}
	if err != nil {
		return nil, fmt.Errorf("points %s: %w", key, err)
	}
	return out, nil
}

// pointsSQL is the query of Points on SQL Server: width three times, device,
// sensor, and the bounds lo < ts_ms <= hi.
const pointsSQL = `SELECT t.window_end, AVG(t.value), COUNT(*) FROM (
    SELECT ((ts_ms + ? - 1) / ?) * ? AS window_end, value
    FROM readings
    WHERE device = ? AND sensor = ? AND ts_ms > ? AND ts_ms <= ?
) t GROUP BY t.window_end ORDER BY t.window_end`

// queryPoints runs pointsSQL.
func (s *Store) queryPoints(ctx context.Context, key sensor.Key, wm, lo, hi int64) ([]sensor.Point, error) {
	rows, err := s.r.QueryContext(ctx, s.q(pointsSQL), wm, wm, wm, key.Device, key.Sensor, lo, hi)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sensor.Point
	for rows.Next() {
		var (
			end int64
			p   sensor.Point
		)
		if err := rows.Scan(&end, &p.Value, &p.Count); err != nil {
			return nil, fmt.Errorf("scan: %w", err)
		}
		p.End = time.UnixMilli(end).UTC()
		out = append(out, p)
	}
	return out, rows.Err()
}

// sqliteReadingsSQL reads one sensor's readings lo < ts_ms <= hi in the order
// of the table's primary key, which is the order in which SQLite's GROUP BY
// feeds them to AVG: its sorter keeps the input order within a group.
const sqliteReadingsSQL = `SELECT ts_ms, value FROM readings
WHERE device = ? AND sensor = ? AND ts_ms > ? AND ts_ms <= ?
ORDER BY ts_ms, source_id, seq, idx`

// sqlitePoints averages the readings of sqliteReadingsSQL per window as
// pointsSQL does on SQLite, bit for bit (TestSQLitePointsMatchAVG).
func (s *Store) sqlitePoints(ctx context.Context, key sensor.Key, wm, lo, hi int64) ([]sensor.Point, error) {
	rows, err := s.query(ctx, s.r, sqliteReadingsSQL, key.Device, key.Sensor, lo, hi)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		out []sensor.Point
		avg sqliteAvg
		end int64
	)
	flush := func() {
		if avg.n > 0 {
			out = append(out, sensor.Point{End: time.UnixMilli(end).UTC(), Value: avg.mean(), Count: avg.n})
		}
	}
	for rows.Next() {
		var (
			ts int64
			v  float64
		)
		if err := rows.Scan(&ts, &v); err != nil {
			return nil, fmt.Errorf("scan: %w", err)
		}
		if e := ((ts + wm - 1) / wm) * wm; e != end || avg.n == 0 {
			flush()
			end, avg = e, sqliteAvg{}
		}
		avg.add(v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	flush()
	return out, nil
}

// sqliteAvg is SQLite's AVG of REAL values (func.c: sumStep,
// kahanBabuskaNeumaierStep, avgFinalize; SQLite 3.43 and later, as in
// modernc.org/sqlite): a Kahan-Babuska-Neumaier sum in input order, its
// error term added unless that overflowed to infinity, divided by the count.
// Readings are REAL (column affinity), so SQLite's integer path never applies.
type sqliteAvg struct {
	sum, err float64
	n        int
}

func (a *sqliteAvg) add(r float64) {
	s := a.sum
	t := s + r
	if math.Abs(s) > math.Abs(r) {
		a.err += (s - t) + r
	} else {
		a.err += (r - t) + s
	}
	a.sum = t
	a.n++
}

func (a *sqliteAvg) mean() float64 {
	r := a.sum
	if !math.IsInf(a.err, 0) && !math.IsNaN(a.err) {
		r += a.err
	}
	return r / float64(a.n)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// errNoRows maps sql.ErrNoRows to ErrNotFound.
func errNoRows(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}
