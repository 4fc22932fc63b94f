package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"
)

// PruneReadings deletes readings with a timestamp before cutoff, in at most
// maxBatches transactions of at most batch rows each, so that a large backlog
// never holds a long lock or a huge transaction log. It returns how many it
// deleted and whether older readings may remain (the last batch was full). A
// reading at exactly cutoff is kept.
//
// SQL Server deletes through its index on ts_ms, one statement per batch.
// SQLite has no index on ts_ms (an insert would pay for another b-tree per
// reading): a batch walks the (device, sensor) keys in order with seeks of
// the primary key, which starts with them (a loose index scan), and deletes
// each sensor's readings before cutoff, a contiguous range of the table,
// until batch rows are deleted or pruneSeeks sensors visited; the next batch
// goes on from the sensor where this one stopped, and the next call from the sensor where this
// one ran out of batches, round to the sensors before it (pruneResume).
func (s *Store) PruneReadings(ctx context.Context, cutoff time.Time, batch, maxBatches int) (deleted int, more bool, err error) {
	if batch <= 0 || maxBatches <= 0 {
		return 0, false, errors.New("prune readings: batch and maxBatches must be positive")
	}
	if s.d == dialectSQLite {
		deleted, more, err = s.pruneSQLite(ctx, cutoff.UnixMilli(), batch, maxBatches, pruneSeeks)
	} else {
		deleted, more, err = s.pruneSQLServer(ctx, cutoff.UnixMilli(), batch, maxBatches)
	}
	if err != nil {
		return deleted, true, fmt.Errorf("prune readings before %s: %w", cutoff.UTC().Format(time.RFC3339), err)
	}
	return deleted, more, nil
}

func (s *Store) pruneSQLServer(ctx context.Context, cutoff int64, batch, maxBatches int) (deleted int, more bool, err error) {
	for range maxBatches {
		res, err := s.w.ExecContext(ctx, s.q(`DELETE TOP (?) FROM readings WHERE ts_ms < ?`), batch, cutoff)
		if err != nil {
			return deleted, true, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return deleted, true, fmt.Errorf("rows affected: %w", err)
		}
		deleted += int(n)
		if int(n) < batch {
			return deleted, false, nil
		}
	}
	return deleted, true, nil
}

// The statements of pruneSQLite; each seeks the primary key (device, sensor,
// ts_ms, source_id, seq, idx) (TestPrunePlanSeeks). Every device is text (the
// column's affinity), so the condition on device in the first statement holds
// for every row and makes it a seek.
const (
	pruneFirstKeySQL = `SELECT device, sensor FROM readings WHERE device >= '' ORDER BY device, sensor LIMIT 1`
	pruneFromKeySQL  = `SELECT device, sensor FROM readings WHERE (device, sensor) >= (?, ?) ORDER BY device, sensor LIMIT 1`
	pruneNextKeySQL  = `SELECT device, sensor FROM readings WHERE (device, sensor) > (?, ?) ORDER BY device, sensor LIMIT 1`
	pruneSensorSQL   = `DELETE FROM readings WHERE (device, sensor, ts_ms, source_id, seq, idx) IN (
    SELECT device, sensor, ts_ms, source_id, seq, idx FROM readings WHERE device = ? AND sensor = ? AND ts_ms < ? LIMIT ?)`
)

// pruneSeeks bounds the sensors one SQLite prune transaction visits: a sensor
// with nothing to delete costs two index seeks (~10 µs), so a walk past
// thousands of pruned sensors still holds the writer for only tens of ms.
const pruneSeeks = 4096

// pruneResume is the sensor where the last SQLite prune ran out of batches:
// the next one starts there and goes round to the sensors before it, so that
// calls whose batches never reach the end take the sensors in turn instead
// of always the first ones.
type pruneResume struct {
	mu             sync.Mutex
	device, sensor string
	set            bool
}

func (s *Store) pruneSQLite(ctx context.Context, cutoff int64, batch, maxBatches, seeks int) (deleted int, more bool, err error) {
	s.resume.mu.Lock()
	fromDevice, fromSensor, from := s.resume.device, s.resume.sensor, s.resume.set
	s.resume.mu.Unlock()
	var (
		device, sensor string
		started        bool // a sensor has been read
		at             bool // (device, sensor) is the sensor to delete from next
		wrapped        bool // the walk passed the last sensor and went on from the first
		done           bool // the walk has visited every sensor
	)
	// step moves to the next sensor of the walk and reports false when the
	// walk has visited every sensor once.
	step := func(tx *sql.Tx, next *sql.Stmt) (bool, error) {
		var err error
		switch {
		case !started && from:
			err = tx.QueryRowContext(ctx, pruneFromKeySQL, fromDevice, fromSensor).Scan(&device, &sensor)
		case !started:
			err = tx.QueryRowContext(ctx, pruneFirstKeySQL).Scan(&device, &sensor)
		default:
			err = next.QueryRowContext(ctx, device, sensor).Scan(&device, &sensor)
		}
		started = true
		if errors.Is(err, sql.ErrNoRows) && from && !wrapped {
			wrapped = true
			err = tx.QueryRowContext(ctx, pruneFirstKeySQL).Scan(&device, &sensor)
		}
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("next sensor: %w", err)
		}
		// Back at the sensor the walk started from: every sensor visited.
		return !wrapped || device < fromDevice || device == fromDevice && sensor < fromSensor, nil
	}
	defer func() {
		s.resume.mu.Lock()
		s.resume.device, s.resume.sensor, s.resume.set = device, sensor, started && !done
		s.resume.mu.Unlock()
	}()
	for range maxBatches {
		n := 0
		err := s.tx(ctx, func(tx *sql.Tx) error {
			del, err := tx.PrepareContext(ctx, pruneSensorSQL)
			if err != nil {
				return err
			}
			defer del.Close()
			next, err := tx.PrepareContext(ctx, pruneNextKeySQL)
			if err != nil {
				return err
			}
			defer next.Close()
			for visited := 0; n < batch && visited < seeks; visited++ {
				if !at {
					ok, err := step(tx, next)
					if err != nil {
						return err
					}
					if !ok {
						done = true
						return nil
					}
					at = true
				}
				res, err := del.ExecContext(ctx, device, sensor, cutoff, batch-n)
				if err != nil {
					return fmt.Errorf("sensor %s/%s: %w", device, sensor, err)
				}
				k, err := res.RowsAffected()
				if err != nil {
					return fmt.Errorf("rows affected: %w", err)
				}
				n += int(k)
				if n == batch {
					return nil // this sensor may have more: the next batch starts with it
				}
				at = false // this sensor has nothing older left
			}
			return nil
		})
		if err != nil {
			return deleted, true, err
		}
		deleted += n
		if done {
			return deleted, false, nil
		}
	}
	return deleted, true, nil
}
