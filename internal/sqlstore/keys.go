package sqlstore

import (
	"context"
	"fmt"

	"github.com/batchscore/batchscore/internal/sensor"
)

// Keys returns the sensors that have at least one reading in w
// (w.Start < ts <= w.End), ordered by device, then sensor. Training uses it to
// find the models to fit.
func (s *Store) Keys(ctx context.Context, w sensor.Window) ([]sensor.Key, error) {
	if err := w.Validate(); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	q := s.q(`SELECT DISTINCT device, sensor FROM readings WHERE ts_ms > ? AND ts_ms <= ? ORDER BY device, sensor`)
	rows, err := s.r.QueryContext(ctx, q, w.Start.UnixMilli(), w.End.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	defer rows.Close()
	var out []sensor.Key
	for rows.Next() {
		var k sensor.Key
		if err := rows.Scan(&k.Device, &k.Sensor); err != nil {
			return nil, fmt.Errorf("keys: scan: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return out, nil
}
