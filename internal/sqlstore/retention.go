package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// PruneReadings deletes readings with a timestamp before cutoff, in at most
// maxBatches statements of at most batch rows each, each its own transaction,
// so that a large backlog never holds a long lock or a huge transaction log.
// It returns how many it deleted and whether older readings remain (the last
// batch was full). A reading at exactly cutoff is kept.
func (s *Store) PruneReadings(ctx context.Context, cutoff time.Time, batch, maxBatches int) (deleted int, more bool, err error) {
	if batch <= 0 || maxBatches <= 0 {
		return 0, false, errors.New("prune readings: batch and maxBatches must be positive")
	}
	q := `DELETE FROM readings WHERE (source_id, seq, idx) IN (
    SELECT source_id, seq, idx FROM readings WHERE ts_ms < ? LIMIT ?)`
	args := []any{cutoff.UnixMilli(), batch}
	if s.d == dialectSQLServer {
		q = `DELETE TOP (?) FROM readings WHERE ts_ms < ?`
		args = []any{batch, cutoff.UnixMilli()}
	}
	for range maxBatches {
		res, err := s.w.ExecContext(ctx, s.q(q), args...)
		if err != nil {
			return deleted, true, fmt.Errorf("prune readings before %s: %w", cutoff.UTC().Format(time.RFC3339), err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return deleted, true, fmt.Errorf("prune readings: rows affected: %w", err)
		}
		deleted += int(n)
		if int(n) < batch {
			return deleted, false, nil
		}
	}
	return deleted, true, nil
}
