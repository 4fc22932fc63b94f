package sqlstore

import (
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/batchscore/batchscore/internal/sensor"
)

// TestSQLitePointsMatchAVG checks that Points on SQLite, which averages in Go,
// returns the bits that SQLite's own AVG gives for the same readings
// (pointsSQL, run on the same file): window ends, counts and every value,
// compared as float64 bits. The readings are inserted in scrambled order,
// several per window and several per timestamp under different identities,
// with values whose naive sum loses digits.
func TestSQLitePointsMatchAVG(t *testing.T) {
	const (
		base = 1535497200000 // 2018-08-28T23:00:00Z
		wm   = 5000
	)
	rng := rand.New(rand.NewPCG(1, 2))
	values := map[string]func(i int) float64{
		"plain":       func(int) float64 { return rng.NormFloat64()*3 + 20 },
		"integral":    func(int) float64 { return float64(rng.IntN(200) - 100) },
		"cancelling":  func(i int) float64 { return []float64{1e16, 1, -1e16, 3.25, 1e-3, -7e15}[i%6] },
		"magnitudes":  func(int) float64 { return math.Ldexp(rng.Float64()-0.5, rng.IntN(120)-60) },
		"overflowing": func(int) float64 { return math.MaxFloat64 / 4 * float64(1+rng.IntN(2)) },
	}
	s := mustOpen(t, "sqlite:"+filepath.Join(t.TempDir(), "avg.db"))
	ctx := t.Context()
	for name, value := range values {
		k := sensor.Key{Device: "avg", Sensor: name}
		var rs []sensor.StoredReading
		for i := range 600 {
			// 0-5 readings in each of 120 windows, some on the same
			// millisecond (then ordered by their identity).
			ts := int64(base + rng.IntN(120*wm) + 1)
			if i%7 == 0 && len(rs) > 0 {
				ts = rs[rng.IntN(len(rs))].TS.UnixMilli()
			}
			rs = append(rs, reading(fmt.Sprintf("src%d", rng.IntN(3)), int64(rng.IntN(1000)), rng.IntN(4), k, ts, value(i)))
		}
		rng.Shuffle(len(rs), func(i, j int) { rs[i], rs[j] = rs[j], rs[i] })
		for len(rs) > 0 {
			n := min(len(rs), 1+rng.IntN(150))
			if _, err := s.InsertReadings(ctx, rs[:n]); err != nil {
				t.Fatal(err)
			}
			rs = rs[n:]
		}
	}
	// Four readings on one millisecond (in every window below) whose
	// compensated sum depends on the order: the table's is seq 0, 1, 2, 3;
	// they are inserted the other way round.
	order := []float64{9.96040673370315e+14, 2.623180824136208e+14, -5.618604572661057e-18, -2.5822164048484588e+14}
	var reversed sqliteAvg
	for i := len(order) - 1; i >= 0; i-- {
		reversed.add(order[i])
		r := reading("order", int64(i), 0, sensor.Key{Device: "avg", Sensor: "order"}, base+40*wm+1, order[i])
		if _, err := s.InsertReadings(ctx, []sensor.StoredReading{r}); err != nil {
			t.Fatal(err)
		}
	}
	names := []string{"order"}
	for name := range values {
		names = append(names, name)
	}
	for _, name := range names {
		k := sensor.Key{Device: "avg", Sensor: name}
		for _, tc := range []struct {
			w     sensor.Window
			width time.Duration
		}{
			{sensor.Window{Start: ms(base), End: ms(base + 120*wm)}, wm * time.Millisecond},
			{sensor.Window{Start: ms(base + 7*wm + 1234), End: ms(base + 60*wm - 17)}, wm * time.Millisecond},
			{sensor.Window{Start: ms(base - 3600000), End: ms(base + 3600000)}, 60 * time.Second},
			{sensor.Window{Start: ms(base - 3600000), End: ms(base + 3600000)}, time.Hour},
		} {
			t.Run(fmt.Sprintf("%s/%s-%s", name, tc.w.Start.Format("15:04:05.000"), tc.width), func(t *testing.T) {
				got, err := s.Points(ctx, k, tc.w, tc.width)
				if err != nil {
					t.Fatal(err)
				}
				wmw := tc.width.Milliseconds()
				want, err := s.queryPoints(ctx, k, wmw, floorDiv(tc.w.Start.UnixMilli(), wmw)*wmw, floorDiv(tc.w.End.UnixMilli(), wmw)*wmw)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want) || len(want) == 0 {
					t.Fatalf("%d points, SQLite's AVG gives %d", len(got), len(want))
				}
				if name == "order" && reversed.mean() == want[0].Value {
					t.Fatalf("the readings summed the other way round give SQLite's AVG too (%v): the case does not test the order", want[0].Value)
				}
				for i := range want {
					g, w := got[i], want[i]
					if !g.End.Equal(w.End) || g.Count != w.Count || math.Float64bits(g.Value) != math.Float64bits(w.Value) {
						t.Errorf("point %d = %s %d %v (%#x), SQLite's AVG gives %s %d %v (%#x)", i,
							g.End.Format(time.RFC3339Nano), g.Count, g.Value, math.Float64bits(g.Value),
							w.End.Format(time.RFC3339Nano), w.Count, w.Value, math.Float64bits(w.Value))
					}
				}
			})
		}
	}
}

// TestSQLiteAvg compares sqliteAvg with SQLite's AVG over a VALUES list (fed
// in the listed order) on sums where the order of operations shows: for all
// but the first two cases a plain sum divided by the count gives other bits.
func TestSQLiteAvg(t *testing.T) {
	s := mustOpen(t, "sqlite::memory:")
	for _, tc := range []struct {
		name  string
		in    []float64
		plain bool // a plain sum gives the same bits
	}{
		{"one", []float64{0.1}, true},
		{"overflow", []float64{math.MaxFloat64, math.MaxFloat64}, true},
		{"compensated", []float64{1e16, 1, -1e16}, false},
		{"compensated, small first", []float64{1, 1e100, 1, -1e100}, false},
		{"tenths", []float64{0.1, 0.2, 0.3}, false},
	} {
		var (
			a     sqliteAvg
			plain float64
			q     = "SELECT AVG(column1) FROM (VALUES "
			args  []any
		)
		for i, v := range tc.in {
			a.add(v)
			plain += v
			if i > 0 {
				q += ","
			}
			q += "(?)"
			args = append(args, v)
		}
		var want float64
		if err := s.r.QueryRowContext(t.Context(), q+")", args...).Scan(&want); err != nil {
			t.Fatal(err)
		}
		if got := a.mean(); math.Float64bits(got) != math.Float64bits(want) {
			t.Errorf("%s: mean of %v = %v, SQLite's AVG gives %v", tc.name, tc.in, got, want)
		}
		if p := plain / float64(len(tc.in)); (p == want) != tc.plain {
			t.Errorf("%s: a plain sum gives %v, SQLite's AVG %v: the case does not test what it says", tc.name, p, want)
		}
	}
}

// TestStmtCache: the per-sensor statements are prepared once per pool, also
// when many goroutines ask at once (go test -race), and still run after the
// cache is shared by them.
func TestStmtCache(t *testing.T) {
	s := mustOpen(t, "sqlite:"+filepath.Join(t.TempDir(), "stmts.db"))
	ctx := t.Context()
	k := sensor.Key{Device: "d", Sensor: "s"}
	if _, err := s.InsertReadings(ctx, []sensor.StoredReading{reading("src", 1, 0, k, 5000, 1.5)}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	got := make([]*sql.Stmt, 16)
	for i := range got {
		wg.Go(func() {
			st, err := s.stmts.get(ctx, s.r, sqliteReadingsSQL)
			if err != nil {
				t.Error(err)
			}
			got[i] = st
			if _, err := s.Points(ctx, k, sensor.Window{Start: ms(0), End: ms(5000)}, 5*time.Second); err != nil {
				t.Error(err)
			}
			if _, err := s.StartAttempt(ctx, fmt.Sprintf("run%d", i), k); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i, st := range got {
		if st != got[0] {
			t.Errorf("get %d returned another statement than get 0", i)
		}
	}
	if n := len(s.stmts.m); n != 2 {
		t.Errorf("%d statements cached, want 2 (the points read and StartAttempt)", n)
	}
	if err := s.stmts.close(); err != nil {
		t.Fatal(err)
	}
	if n := len(s.stmts.m); n != 0 {
		t.Errorf("%d statements left after close", n)
	}
}
