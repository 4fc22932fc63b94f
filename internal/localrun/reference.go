package localrun

import (
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/batchscore/batchscore/internal/reference"
	"github.com/batchscore/batchscore/internal/sensor"
)

// TSLayout is the reference's timestamp layout (UTC, no zone).
const TSLayout = reference.TSLayout

// Prediction is one scored row, from a predictions blob or the reference.
type Prediction struct {
	TS       time.Time
	Key      sensor.Key
	Value    float64
	Anomaly  bool
	Decision float64
}

// ReadPredictions reads predictions: our blobs and `batchscore score`'s output
// (TS,Device,Sensor,Val,Prediction,Decision), the reference's
// expected_predictions.csv (TS,Device,Sensor,Val,decision,Prediction), or the
// older `batchscore score` output whose columns were decision,anomaly. Column
// names are matched without regard to case; Prediction is 1 for an anomaly, 0
// for normal.
func ReadPredictions(r io.Reader) ([]Prediction, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	prediction := "Prediction"
	if _, err := reference.Columns(head, prediction); err != nil {
		if _, aerr := reference.Columns(head, "anomaly"); aerr == nil {
			prediction = "anomaly"
		}
	}
	col, err := reference.Columns(head, "TS", "Device", "Sensor", "Val", prediction, "Decision")
	if err != nil {
		return nil, err
	}
	var out []Prediction
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		var p Prediction
		if p.TS, err = reference.ParseTS(rec[col[0]]); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		p.Key = sensor.Key{Device: rec[col[1]], Sensor: rec[col[2]]}
		if p.Value, err = strconv.ParseFloat(rec[col[3]], 64); err != nil {
			return nil, fmt.Errorf("line %d: Val: %w", line, err)
		}
		switch strings.TrimSpace(rec[col[4]]) {
		case "1":
			p.Anomaly = true
		case "0":
		default:
			return nil, fmt.Errorf("line %d: Prediction %q: want 0 or 1", line, rec[col[4]])
		}
		if p.Decision, err = strconv.ParseFloat(rec[col[5]], 64); err != nil {
			return nil, fmt.Errorf("line %d: Decision: %w", line, err)
		}
		out = append(out, p)
	}
}

// Parity is the comparison of our predictions with the reference's.
type Parity struct {
	Expected        int // rows in the reference
	Identical       int // rows present in both with the same value and prediction
	Mismatches      []string
	MaxDecisionDiff float64 // largest |decision - reference decision| over matched rows
}

// OK reports whether every reference row was reproduced and nothing else was produced.
func (p Parity) OK() bool { return len(p.Mismatches) == 0 && p.Identical == p.Expected }

type predKey struct {
	key sensor.Key
	ms  int64
}

// Compare matches got against want by (device, sensor, TS). A row is identical
// when its value and prediction are equal; missing, extra and differing rows are
// listed (the first 50 of them in Mismatches, then a count).
func Compare(want, got []Prediction) Parity {
	p := Parity{Expected: len(want)}
	idx := make(map[predKey]Prediction, len(got))
	var extra []string
	for _, g := range got {
		k := predKey{g.Key, g.TS.UnixMilli()}
		if _, dup := idx[k]; dup {
			extra = append(extra, fmt.Sprintf("%s %s: duplicated row", g.Key, g.TS.Format(TSLayout)))
		}
		idx[k] = g
	}
	var bad []string
	for _, w := range want {
		k := predKey{w.Key, w.TS.UnixMilli()}
		g, ok := idx[k]
		if !ok {
			bad = append(bad, fmt.Sprintf("%s %s: missing (reference value %v, prediction %d)", w.Key, w.TS.Format(TSLayout), w.Value, b2i(w.Anomaly)))
			continue
		}
		delete(idx, k)
		if d := abs(g.Decision - w.Decision); d > p.MaxDecisionDiff {
			p.MaxDecisionDiff = d
		}
		if g.Value != w.Value || g.Anomaly != w.Anomaly {
			bad = append(bad, fmt.Sprintf("%s %s: value %v prediction %d (decision %v), reference value %v prediction %d (decision %v)",
				w.Key, w.TS.Format(TSLayout), g.Value, b2i(g.Anomaly), g.Decision, w.Value, b2i(w.Anomaly), w.Decision))
			continue
		}
		p.Identical++
	}
	for _, g := range idx {
		extra = append(extra, fmt.Sprintf("%s %s: not in the reference (value %v)", g.Key, g.TS.Format(TSLayout), g.Value))
	}
	sort.Strings(extra)
	bad = append(bad, extra...)
	const maxShown = 50
	if len(bad) > maxShown {
		bad = append(bad[:maxShown], fmt.Sprintf("... and %d more", len(bad)-maxShown))
	}
	p.Mismatches = bad
	return p
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

// Thousands formats n with comma separators: 17768 -> "17,768".
func Thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
