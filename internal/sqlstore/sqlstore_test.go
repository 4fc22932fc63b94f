package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/batchscore/batchscore/internal/reference"
	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// backend opens a fresh store and returns a prefix that makes the test's
// identities unique (SQL Server databases outlive a test run).
type backend struct {
	name string
	open func(t *testing.T) *Store
}

func backends(t *testing.T) []backend {
	t.Helper()
	bs := []backend{
		{"sqlite-memory", func(t *testing.T) *Store { return mustOpen(t, "sqlite::memory:") }},
		{"sqlite-file", func(t *testing.T) *Store { return mustOpen(t, "sqlite:"+filepath.Join(t.TempDir(), "test.db")) }},
	}
	if u := os.Getenv("SQLSERVER_URL"); u != "" {
		bs = append(bs, backend{"sqlserver", func(t *testing.T) *Store { return mustOpen(t, u) }})
	}
	return bs
}

// forEach runs fn against every backend; SQL Server is reported as skipped when absent.
func forEach(t *testing.T, fn func(t *testing.T, s *Store, uniq string)) {
	t.Helper()
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			fn(t, b.open(t), fmt.Sprintf("t%d", time.Now().UnixNano()))
		})
	}
	if os.Getenv("SQLSERVER_URL") == "" {
		t.Run("sqlserver", func(t *testing.T) {
			t.Skip("SQLSERVER_URL not set: no SQL Server to test against; set SQLSERVER_URL=sqlserver://user:pass@host?database=db to run this suite against it")
		})
	}
}

func mustOpen(t *testing.T, url string) *Store {
	t.Helper()
	s, err := Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open(%s): %v", redact(url), err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func ms(v int64) time.Time { return time.UnixMilli(v).UTC() }

func pt(endMS int64, v float64, n int) sensor.Point {
	return sensor.Point{End: ms(endMS), Value: v, Count: n}
}

func reading(src string, seq int64, idx int, k sensor.Key, tsMS int64, v float64) sensor.StoredReading {
	return sensor.StoredReading{Reading: sensor.Reading{TS: ms(tsMS), Key: k, Value: v}, Source: src, Sequence: seq, Index: idx}
}

func TestOpenRejectsUnknownURL(t *testing.T) {
	for _, u := range []string{"", "postgres://x", "sqlite:", "mysql://u:secret@h/db"} {
		s, err := Open(t.Context(), u)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded, want an error", u)
			continue
		}
		if got := err.Error(); strings.Contains(got, "secret") {
			t.Errorf("Open(%q) error %q shows the password", u, got)
		}
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	urls := map[string]string{"sqlite-file": "sqlite:" + filepath.Join(t.TempDir(), "m.db")}
	if u := os.Getenv("SQLSERVER_URL"); u != "" {
		urls["sqlserver"] = u
	}
	for name, u := range urls {
		t.Run(name, func(t *testing.T) {
			dialect := strings.TrimSuffix(name, "-file")
			entries, err := migrations.ReadDir("migrations/" + dialect)
			if err != nil || len(entries) == 0 {
				t.Fatalf("migrations of %s: %d, %v", dialect, len(entries), err)
			}
			latest, err := strconv.Atoi(strings.SplitN(entries[len(entries)-1].Name(), "_", 2)[0])
			if err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				s := mustOpen(t, u)
				v, err := s.SchemaVersion(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				if v != latest {
					t.Fatalf("open %d: schema version %d, want %d", i, v, latest)
				}
				s.Close()
			}
		})
	}
}

func TestInsertReadingsIdempotent(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store, uniq string) {
		ctx := t.Context()
		k := sensor.Key{Device: uniq + "d", Sensor: "s"}
		src := uniq + "/0"
		batch := []sensor.StoredReading{
			reading(src, 1, 0, k, 5000, 1.5),
			reading(src, 1, 1, k, 10000, 2.5),
			reading(src, 2, 0, k, 15000, 3.5),
			reading(src, 2, 0, k, 15000, 99), // repeated inside the batch: ignored
		}
		for _, tc := range []struct {
			name string
			in   []sensor.StoredReading
			want int
		}{
			{"first delivery", batch, 3},
			{"redelivery", batch, 0},
			{"overlap", []sensor.StoredReading{batch[2], reading(src, 3, 0, k, 20000, 4.5)}, 1},
			{"empty", nil, 0},
		} {
			got, err := s.InsertReadings(ctx, tc.in)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if got != tc.want {
				t.Errorf("%s: inserted %d, want %d", tc.name, got, tc.want)
			}
		}
		pts, err := s.Points(ctx, k, sensor.Window{Start: ms(0), End: ms(20000)}, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		want := []sensor.Point{pt(5000, 1.5, 1), pt(10000, 2.5, 1), pt(15000, 3.5, 1), pt(20000, 4.5, 1)}
		if d := cmp.Diff(want, pts); d != "" {
			t.Errorf("points after redelivery (-want +got):\n%s", d)
		}
	})
}

func TestPointsWindowRule(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store, uniq string) {
		ctx := t.Context()
		k := sensor.Key{Device: uniq + "w", Sensor: "1"}
		const base = 1535497200000 // 2018-08-28T23:00:00Z, a multiple of 5 s
		rs := []sensor.StoredReading{
			reading(uniq, 1, 0, k, base, 10),      // exactly at T: window ending at base
			reading(uniq, 1, 1, k, base+1, 20),    // just after T: the next window
			reading(uniq, 1, 2, k, base+4999, 30), // same window as base+1
			reading(uniq, 1, 3, k, base+5000, 40), // the end of that window
			reading(uniq, 1, 4, k, base+5001, 50),
			reading(uniq, 1, 5, k, base-4999, 60), // first instant of the window ending at base
			reading(uniq, 1, 6, k, base-5000, 70), // previous window
		}
		if _, err := s.InsertReadings(ctx, rs); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name  string
			w     sensor.Window
			width time.Duration
			want  []sensor.Point
		}{
			{"aligned (start, end]", sensor.Window{Start: ms(base - 5000), End: ms(base + 5000)}, 5 * time.Second,
				[]sensor.Point{pt(base, 35, 2), pt(base+5000, 30, 3)}},
			{"start excluded", sensor.Window{Start: ms(base), End: ms(base + 5000)}, 5 * time.Second,
				[]sensor.Point{pt(base+5000, 30, 3)}},
			{"all", sensor.Window{Start: ms(base - 60000), End: ms(base + 60000)}, 5 * time.Second,
				[]sensor.Point{pt(base-5000, 70, 1), pt(base, 35, 2), pt(base+5000, 30, 3), pt(base+10000, 50, 1)}},
			{"unaligned bounds select whole windows", sensor.Window{Start: ms(base - 2000), End: ms(base + 7000)}, 5 * time.Second,
				[]sensor.Point{pt(base, 35, 2), pt(base+5000, 30, 3)}},
			{"wider windows", sensor.Window{Start: ms(base - 60000), End: ms(base + 60000)}, 10 * time.Second,
				[]sensor.Point{pt(base, 140.0/3, 3), pt(base+10000, 35, 4)}},
			{"empty window", sensor.Window{Start: ms(base + 60000), End: ms(base + 120000)}, 5 * time.Second, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.Points(ctx, k, tc.w, tc.width)
				if err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff(tc.want, got, cmpopts.EquateApprox(0, 1e-12)); d != "" {
					t.Errorf("Points (-want +got):\n%s", d)
				}
			})
		}
		for _, bad := range []struct {
			w     sensor.Window
			width time.Duration
		}{
			{sensor.Window{Start: ms(base), End: ms(base + 5000)}, 0},
			{sensor.Window{Start: ms(base), End: ms(base + 5000)}, time.Microsecond},
			{sensor.Window{Start: ms(base), End: ms(base)}, 5 * time.Second},
		} {
			if _, err := s.Points(ctx, k, bad.w, bad.width); err == nil {
				t.Errorf("Points(%v, %s) succeeded, want an error", bad.w, bad.width)
			}
		}
	})
}

// TestReferenceWindows stores the reference readings and re-aggregates them: at
// 5 s every TS and value comes back unchanged (the reference is already 5 s
// aggregates); at 10 s and 60 s the SQL rule agrees with sensor.WindowEnd.
func TestReferenceWindows(t *testing.T) {
	_, ref := reference.ForTest(t)
	forEach(t, func(t *testing.T, s *Store, uniq string) {
		ctx := t.Context()
		rs := make([]sensor.StoredReading, len(ref))
		first, last := ref[0].TS, ref[0].TS
		for i, r := range ref {
			k := sensor.Key{Device: uniq + "r" + r.Key.Device, Sensor: r.Key.Sensor}
			rs[i] = sensor.StoredReading{Reading: sensor.Reading{TS: r.TS, Key: k, Value: r.Value}, Source: uniq + "/ref", Sequence: int64(i / 15), Index: i % 15}
			if r.TS.Before(first) {
				first = r.TS
			}
			if r.TS.After(last) {
				last = r.TS
			}
		}
		start := time.Now()
		n, err := s.InsertReadings(ctx, rs)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("inserted %d reference readings in %s", n, time.Since(start).Round(time.Millisecond))
		if n != len(rs) {
			t.Fatalf("inserted %d, want %d", n, len(rs))
		}
		// The window starts one hour before the first reading, aligned.
		w := sensor.Window{Start: first.Truncate(time.Hour).Add(-time.Hour), End: last.Truncate(time.Hour).Add(time.Hour)}
		for _, width := range []time.Duration{5 * time.Second, 10 * time.Second, time.Minute} {
			want := map[sensor.Key][]sensor.Point{}
			idx := map[sensor.Key]map[time.Time]int{}
			for _, r := range rs {
				k := r.Key
				end := sensor.WindowEnd(r.TS, width)
				if idx[k] == nil {
					idx[k] = map[time.Time]int{}
				}
				i, ok := idx[k][end]
				if !ok {
					i = len(want[k])
					idx[k][end] = i
					want[k] = append(want[k], sensor.Point{End: end})
				}
				p := &want[k][i]
				p.Value = (p.Value*float64(p.Count) + r.Value) / float64(p.Count+1)
				p.Count++
			}
			for k, pts := range want {
				got, err := s.Points(ctx, k, w, width)
				if err != nil {
					t.Fatal(err)
				}
				sortPoints(pts)
				opts := cmp.Options{}
				if width != 5*time.Second {
					opts = append(opts, cmpopts.EquateApprox(0, 1e-9))
				}
				if d := cmp.Diff(pts, got, opts...); d != "" {
					t.Errorf("width %s, %s (-want +got):\n%s", width, k, d)
				}
			}
		}
		// At 5 s every reference line comes back as itself, exactly.
		back := 0
		for _, k := range keys(rs) {
			got, err := s.Points(ctx, k, w, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range got {
				if p.Count != 1 {
					t.Fatalf("%s %s: %d readings in a 5 s window, want 1", k, p.End, p.Count)
				}
			}
			back += len(got)
		}
		if back != len(ref) {
			t.Errorf("re-aggregated %d points, want the %d reference lines", back, len(ref))
		}
	})
}

func keys(rs []sensor.StoredReading) []sensor.Key {
	seen := map[sensor.Key]bool{}
	var out []sensor.Key
	for _, r := range rs {
		if !seen[r.Key] {
			seen[r.Key] = true
			out = append(out, r.Key)
		}
	}
	return out
}

func sortPoints(ps []sensor.Point) {
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && ps[j].End.Before(ps[j-1].End); j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}

func TestRuns(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store, uniq string) {
		ctx := t.Context()
		w1 := sensor.Window{Start: ms(1535497200000), End: ms(1535511600000)}
		r1 := sensor.Run{ID: uniq + w1.RunID(), Window: w1, Sensors: 15, Created: ms(4102444800000)} // far future, so it is the latest
		if err := s.PutRun(ctx, r1); err != nil {
			t.Fatal(err)
		}
		again := r1
		again.Created = ms(4102444800000 + 60000)
		if err := s.PutRun(ctx, again); err != nil {
			t.Fatalf("PutRun again: %v", err)
		}
		got, err := s.Run(ctx, r1.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(r1, got); d != "" {
			t.Errorf("Run after a repeated PutRun (-want +got):\n%s", d)
		}
		latest, err := s.LatestRun(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		if latest.ID != r1.ID {
			t.Errorf("LatestRun = %s, want %s", latest.ID, r1.ID)
		}
		if _, err := s.Run(ctx, uniq+"missing"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Run(missing) error = %v, want ErrNotFound", err)
		}
	})
}

func TestLatestRunEmpty(t *testing.T) {
	s := mustOpen(t, "sqlite::memory:")
	if _, err := s.LatestRun(t.Context(), false); !errors.Is(err, ErrNotFound) {
		t.Errorf("LatestRun on an empty store: %v, want ErrNotFound", err)
	}
}

func TestOutcomes(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store, uniq string) {
		ctx := t.Context()
		run := uniq + "run"
		if err := s.PutRun(ctx, sensor.Run{ID: run, Window: sensor.Window{Start: ms(0), End: ms(3600000)}, Sensors: 6}); err != nil {
			t.Fatal(err)
		}
		k := func(d string) sensor.Key { return sensor.Key{Device: d, Sensor: "1"} }
		upd := ms(1700000000000)
		type step struct {
			start   *sensor.Key
			finish  *sensor.Outcome
			attempt int // want from StartAttempt
		}
		fin := func(o sensor.Outcome) *sensor.Outcome { o.Run, o.Updated = run, upd; return &o }
		key := func(d string) *sensor.Key { kk := k(d); return &kk }
		steps := []step{
			{start: key("a"), attempt: 1},
			{finish: fin(sensor.Outcome{Key: k("a"), Status: sensor.StatusDone, Rows: 100, Anomalies: 3, Attempts: 1, Duration: 250 * time.Millisecond, Blob: run + "/preds_a_1.csv"})},
			{start: key("b"), attempt: 1},
			{finish: fin(sensor.Outcome{Key: k("b"), Status: sensor.StatusFailed, Attempts: 1, ModelETag: `"0x1"`, Error: "points: db down"})},
			{start: key("b"), attempt: 2},
			{finish: fin(sensor.Outcome{Key: k("b"), Status: sensor.StatusDone, Rows: 50, Anomalies: 1, Attempts: 2, Duration: time.Second, Blob: run + "/preds_b_1.csv", ModelETag: `"0x8DC1F2A3B4C5D6E"`})},
			{start: key("c"), attempt: 1},
			{start: key("c"), attempt: 2},
			{start: key("c"), attempt: 3},
			{finish: fin(sensor.Outcome{Key: k("c"), Status: sensor.StatusPoisoned, Attempts: 1, Error: "boom"})}, // stale attempt count: the stored 3 wins
			{start: key("d"), attempt: 1},
			{finish: fin(sensor.Outcome{Key: k("e"), Status: sensor.StatusEmpty})}, // finish without start: attempts 1
		}
		for i, st := range steps {
			if st.start != nil {
				got, err := s.StartAttempt(ctx, run, *st.start)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if got != st.attempt {
					t.Errorf("step %d: StartAttempt(%s) = %d, want %d", i, st.start, got, st.attempt)
				}
			}
			if st.finish != nil {
				if err := s.FinishOutcome(ctx, *st.finish); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			}
		}
		got, err := s.Outcomes(ctx, run)
		if err != nil {
			t.Fatal(err)
		}
		want := []sensor.Outcome{
			{Run: run, Key: k("a"), Status: sensor.StatusDone, Rows: 100, Anomalies: 3, Attempts: 1, Duration: 250 * time.Millisecond, Blob: run + "/preds_a_1.csv", Updated: upd},
			{Run: run, Key: k("b"), Status: sensor.StatusDone, Rows: 50, Anomalies: 1, Attempts: 2, Duration: time.Second, Blob: run + "/preds_b_1.csv", ModelETag: `"0x8DC1F2A3B4C5D6E"`, Updated: upd},
			{Run: run, Key: k("c"), Status: sensor.StatusPoisoned, Attempts: 3, Error: "boom", Updated: upd},
			{Run: run, Key: k("d"), Status: sensor.StatusRunning, Attempts: 1},
			{Run: run, Key: k("e"), Status: sensor.StatusEmpty, Attempts: 1, Updated: upd},
		}
		if d := cmp.Diff(want, got, cmpopts.IgnoreFields(sensor.Outcome{}, "Updated")); d != "" {
			t.Errorf("Outcomes (-want +got):\n%s", d)
		}
		if !got[0].Updated.Equal(upd) {
			t.Errorf("Updated = %s, want %s", got[0].Updated, upd)
		}
		if o, ok, err := s.Outcome(ctx, run, k("b")); err != nil || !ok || cmp.Diff(want[1], o, cmpopts.IgnoreFields(sensor.Outcome{}, "Updated")) != "" {
			t.Errorf("Outcome(b) = %+v, %v, %v; want %+v", o, ok, err, want[1])
		}
		if o, ok, err := s.Outcome(ctx, run, k("z")); err != nil || ok {
			t.Errorf("Outcome(z) = %+v, %v, %v; want none", o, ok, err)
		}

		sum, err := s.RunSummary(ctx, run)
		if err != nil {
			t.Fatal(err)
		}
		wantSum := Summary{Total: 6, Done: 2, Empty: 1, Poisoned: 1, Running: 1, Pending: 1, Rows: 150, Anomalies: 4,
			Slowest: []sensor.Outcome{want[1], want[0]}}
		if d := cmp.Diff(wantSum, sum, cmpopts.IgnoreFields(Summary{}, "Run"), cmpopts.IgnoreFields(sensor.Outcome{}, "Updated")); d != "" {
			t.Errorf("RunSummary (-want +got):\n%s", d)
		}
		if sum.Run.ID != run {
			t.Errorf("RunSummary.Run.ID = %q, want %q", sum.Run.ID, run)
		}
		if _, err := s.RunSummary(ctx, uniq+"nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("RunSummary(unknown) = %v, want ErrNotFound", err)
		}
	})
}

// TestConcurrentWriters checks that parallel writers on a SQLite file do not
// fail with SQLITE_BUSY (writes go through one connection).
func TestConcurrentWriters(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store, uniq string) {
		ctx := t.Context()
		run := uniq + "c"
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for g := range 8 {
			wg.Go(func() {
				for i := range 8 {
					k := sensor.Key{Device: "d" + strconv.Itoa(g), Sensor: strconv.Itoa(i % 2)}
					if _, err := s.StartAttempt(ctx, run, k); err != nil {
						errs <- err
						return
					}
					r := reading(uniq, int64(g), i, k, int64(5000*(i+1)), float64(i))
					if _, err := s.InsertReadings(ctx, []sensor.StoredReading{r}); err != nil {
						errs <- err
						return
					}
					if _, err := s.Points(ctx, k, sensor.Window{Start: ms(0), End: ms(60000)}, 5*time.Second); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("concurrent write: %v (transient=%v)", err, IsTransient(err))
		}
		got, err := s.Outcomes(ctx, run)
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, o := range got {
			total += o.Attempts
		}
		if len(got) != 16 || total != 64 {
			t.Errorf("%d outcomes with %d attempts, want 16 with 64", len(got), total)
		}
	})
}

func TestIsTransient(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"canceled", context.Canceled, false},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), true},
		{"not found", ErrNotFound, false},
		{"plain", errors.New("syntax error"), false},
	} {
		if got := IsTransient(tc.err); got != tc.want {
			t.Errorf("%s: IsTransient = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestIsTransientBusy provokes a real SQLITE_BUSY with a second, independent
// connection holding the write lock, and checks the classification.
func TestIsTransientBusy(t *testing.T) {
	p := filepath.Join(t.TempDir(), "busy.db")
	s := mustOpen(t, "sqlite:"+p)
	other := mustOpen(t, "sqlite:"+p)
	ctx := t.Context()
	tx, err := other.w.BeginTx(ctx, nil) // _txlock=immediate: takes the write lock now
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := s.w.ExecContext(ctx, "PRAGMA busy_timeout = 1"); err != nil {
		t.Fatal(err)
	}
	_, err = s.InsertReadings(ctx, []sensor.StoredReading{reading("b", 1, 0, sensor.Key{Device: "1", Sensor: "1"}, 5000, 1)})
	if err == nil {
		t.Fatal("insert while another connection holds the write lock succeeded")
	}
	if !IsTransient(err) {
		t.Errorf("IsTransient(%v) = false, want true", err)
	}
}

// TestInsertReadingsIdentityReused stores a reading under an identity that a
// stored reading already has, as after an event hub is deleted and created
// again under the same name (its sequence numbers start again): SQLite, whose
// key is (device, sensor, ts_ms, identity), keeps a reading of another sensor
// or time and ignores one of the same sensor and time; SQL Server, whose key
// is the identity, ignores both.
func TestInsertReadingsIdentityReused(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store, uniq string) {
		ctx := t.Context()
		k := sensor.Key{Device: uniq + "d", Sensor: "s"}
		src := uniq + "/0"
		if n, err := s.InsertReadings(ctx, []sensor.StoredReading{reading(src, 7, 0, k, 5000, 1)}); err != nil || n != 1 {
			t.Fatalf("first reading: inserted %d, %v", n, err)
		}
		other := 1
		if s.d == dialectSQLServer {
			other = 0
		}
		for _, tc := range []struct {
			name string
			r    sensor.StoredReading
			want int
		}{
			{"same sensor and time, another value", reading(src, 7, 0, k, 5000, 2), 0},
			{"another time", reading(src, 7, 0, k, 10000, 3), other},
			{"another sensor", reading(src, 7, 0, sensor.Key{Device: uniq + "d", Sensor: "t"}, 5000, 4), other},
		} {
			if n, err := s.InsertReadings(ctx, []sensor.StoredReading{tc.r}); err != nil || n != tc.want {
				t.Errorf("%s: inserted %d, %v; want %d", tc.name, n, err, tc.want)
			}
		}
	})
}

func TestInsertReadingsRejectsNonFinite(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store, uniq string) {
		k := sensor.Key{Device: uniq, Sensor: "1"}
		for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.SmallestNonzeroFloat64, -0x1p-1023} {
			n, err := s.InsertReadings(t.Context(), []sensor.StoredReading{reading(uniq+"n", 1, 0, k, 5000, 1), reading(uniq+"n", 1, 1, k, 10000, v)})
			if err == nil || n != 0 {
				t.Errorf("InsertReadings with value %g = %d, %v; want 0 and an error", v, n, err)
			}
		}
		pts, err := s.Points(t.Context(), k, sensor.Window{Start: ms(0), End: ms(60000)}, 5*time.Second)
		if err != nil || len(pts) != 0 {
			t.Errorf("Points after rejected batches = %v, %v; want none (nothing written)", pts, err)
		}
	})
}

func TestPointsValue(t *testing.T) {
	// NaN, infinities and subnormals are not valid readings; ingest rejects
	// them. The extremes of SQL's float range round-trip exactly.
	forEach(t, func(t *testing.T, s *Store, uniq string) {
		k := sensor.Key{Device: uniq, Sensor: "1"}
		vals := []float64{math.MaxFloat64 / 4, 0x1p-1022, -0.1, 1e-300, 0, -math.MaxFloat64 / 4}
		for i, v := range vals {
			if _, err := s.InsertReadings(t.Context(), []sensor.StoredReading{reading(uniq+"v", int64(i), 0, k, int64(5000*(i+1)), v)}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Points(t.Context(), k, sensor.Window{Start: ms(0), End: ms(60000)}, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(vals) {
			t.Fatalf("%d points, want %d", len(got), len(vals))
		}
		for i, p := range got {
			if p.Value != vals[i] {
				t.Errorf("point %d = %g, want %g", i, p.Value, vals[i])
			}
		}
	})
}

// BenchmarkInsertReadings measures one InsertReadings call of 10,000 new rows
// (the size of a large Event Hubs batch) on a SQLite file.
func BenchmarkInsertReadings(b *testing.B) {
	s, err := Open(b.Context(), "sqlite:"+filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 10000
	rs := make([]sensor.StoredReading, n)
	seq := int64(0)
	b.ReportAllocs()
	for b.Loop() {
		for i := range rs {
			rs[i] = reading("bench/0", seq, i, sensor.Key{Device: strconv.Itoa(i % 3), Sensor: strconv.Itoa(i % 5)}, 1535497200000+int64(i)*5000, float64(i))
		}
		seq++
		got, err := s.InsertReadings(b.Context(), rs)
		if err != nil {
			b.Fatal(err)
		}
		if got != n {
			b.Fatalf("inserted %d, want %d", got, n)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// The synthetic fleet of `batchscore run -synthetic 100x10 -rows 720`: 100
// devices x 10 sensors, one reading each per 5 s step, 720 steps a round.
const (
	fleetDevices, fleetSensors, fleetSteps, fleetParts, fleetCall = 100, 10, 720, 4, 10000
	fleetT0                                                       = 1535497200000
)

func fleetKey(d, n int) sensor.Key {
	return sensor.Key{Device: fmt.Sprintf("Device_%03d", d), Sensor: fmt.Sprintf("Sensor_%d", n)}
}

// fleetCalls returns round r of the fleet (timestamps shifted by r x 720
// steps) as ingest receives it: one event per device and step on partition
// device%4, one InsertReadings call per 10,000 readings of a partition,
// partitions taking turns.
func fleetCalls(r int) [][]sensor.StoredReading {
	keys := make([]sensor.Key, fleetDevices*fleetSensors)
	for d := range fleetDevices {
		for n := range fleetSensors {
			keys[d*fleetSensors+n] = fleetKey(d, n)
		}
	}
	byPart := make([][]sensor.StoredReading, fleetParts)
	for t := range fleetSteps {
		step := r*fleetSteps + t
		for d := range fleetDevices {
			p := d % fleetParts
			seq := int64(step*fleetDevices/fleetParts + d/fleetParts)
			for n := range fleetSensors {
				byPart[p] = append(byPart[p], reading(fmt.Sprintf("bench/%d", p), seq, n, keys[d*fleetSensors+n], int64(fleetT0+step*5000), float64(t*n)*0.37))
			}
		}
	}
	var calls [][]sensor.StoredReading
	for off := 0; ; off += fleetCall {
		more := false
		for p := range byPart {
			if off < len(byPart[p]) {
				calls = append(calls, byPart[p][off:min(off+fleetCall, len(byPart[p]))])
				more = true
			}
		}
		if !more {
			return calls
		}
	}
}

// BenchmarkInsertReadingsFleet inserts the synthetic fleet (fleetCalls) into a
// SQLite file, one InsertReadings call an iteration: -benchtime=72x is one
// round (720,000 readings); later iterations go on with the next rounds.
func BenchmarkInsertReadingsFleet(b *testing.B) {
	s, err := Open(b.Context(), "sqlite:"+filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	calls, round, rows := fleetCalls(0), 0, 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i == len(calls) {
			b.StopTimer()
			round++
			calls, i = fleetCalls(round), 0
			b.StartTimer()
		}
		got, err := s.InsertReadings(b.Context(), calls[i])
		if err != nil {
			b.Fatal(err)
		}
		if got != len(calls[i]) {
			b.Fatalf("inserted %d, want %d", got, len(calls[i]))
		}
		rows += got
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkPointsFleet reads one sensor's hour (720 readings, 5 s windows)
// an iteration, sensors in turn, from a SQLite file holding two rounds of the
// synthetic fleet (1,440,000 readings), as the scoring jobs do.
func BenchmarkPointsFleet(b *testing.B) {
	s, err := Open(b.Context(), "sqlite:"+filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for r := range 2 {
		for _, c := range fleetCalls(r) {
			if _, err := s.InsertReadings(b.Context(), c); err != nil {
				b.Fatal(err)
			}
		}
	}
	hour := sensor.Window{Start: ms(fleetT0 + fleetSteps*5000 - 5000), End: ms(fleetT0 + 2*fleetSteps*5000 - 5000)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		k := fleetKey(i%fleetDevices, i/fleetDevices%fleetSensors)
		ps, err := s.Points(b.Context(), k, hour, 5*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		if len(ps) != fleetSteps {
			b.Fatalf("%s: %d points, want %d", k, len(ps), fleetSteps)
		}
	}
}

func TestSQLServerDSN(t *testing.T) {
	for _, tc := range []struct {
		url, driver, dsn string
	}{
		{"sqlserver://sa:pw@localhost:1433?database=db", "sqlserver", "sqlserver://sa:pw@localhost:1433?database=db"},
		{"sqlserver://srv.database.windows.net?database=db", "azuresql", "sqlserver://srv.database.windows.net?database=db&fedauth=ActiveDirectoryDefault"},
		{"sqlserver://srv.database.windows.net?database=db&fedauth=ActiveDirectoryManagedIdentity&user+id=cid", "azuresql",
			"sqlserver://srv.database.windows.net?database=db&fedauth=ActiveDirectoryManagedIdentity&user+id=cid"},
		{"sqlserver://app@srv.database.windows.net?database=db", "azuresql", "sqlserver://app@srv.database.windows.net?database=db&fedauth=ActiveDirectoryDefault"},
	} {
		driver, dsn, err := sqlserverDSN(tc.url)
		if err != nil {
			t.Errorf("sqlserverDSN(%s): %v", tc.url, err)
			continue
		}
		if driver != tc.driver || dsn != tc.dsn {
			t.Errorf("sqlserverDSN(%s) = %s, %s; want %s, %s", tc.url, driver, dsn, tc.driver, tc.dsn)
		}
	}
	if _, _, err := sqlserverDSN("sqlserver://?database=db"); err == nil {
		t.Error("sqlserverDSN without a host succeeded")
	}
}

// TestSQLServerStatements checks the generated SQL Server statements without a
// server: placeholders are numbered in order and stay under the 2,100-parameter limit.
func TestSQLServerStatements(t *testing.T) {
	s := &Store{d: dialectSQLServer}
	if got, want := s.q("a = ? AND b = ? OR c IN (?)"), "a = @p1 AND b = @p2 OR c IN (@p3)"; got != want {
		t.Errorf("q = %q, want %q", got, want)
	}
	sql := s.insertReadingsSQL(sqlserverBatch)
	n := strings.Count(sql, "@p")
	if n != 7*sqlserverBatch || n > 2100 {
		t.Errorf("insert statement has %d parameters, want %d (<= 2100)", n, 7*sqlserverBatch)
	}
	if !strings.Contains(sql, fmt.Sprintf("@p%d AS FLOAT", 7*sqlserverBatch)) || strings.Contains(sql, "?") {
		t.Errorf("insert statement placeholders are not numbered through @p%d", 7*sqlserverBatch)
	}
	lite := (&Store{d: dialectSQLite}).insertReadingsSQL(3)
	if got := strings.Count(lite, "?"); got != 21 {
		t.Errorf("sqlite insert for 3 rows has %d placeholders, want 21", got)
	}
}

// TestSQLServerDown opens a sqlserver URL where nothing listens: Open must fail
// quickly with a transient error (the host retries; no hang).
func TestSQLServerDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // now nothing listens there
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	start := time.Now()
	s, err := Open(ctx, "sqlserver://sa:pw@"+addr+"?database=db&dial+timeout=5")
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded with no server")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Open took %s to fail", d)
	}
	if !IsTransient(err) {
		t.Errorf("IsTransient(%v) = false, want true", err)
	}
}

func TestCheckURL(t *testing.T) {
	for _, u := range []string{"sqlite:x.db", "sqlite::memory:", "sqlserver://sa:pw@h:1433?database=db", "sqlserver://srv.database.windows.net?database=db"} {
		if err := CheckURL(u); err != nil {
			t.Errorf("CheckURL(%s): %v", redact(u), err)
		}
	}
	for _, u := range []string{"", "sqlite:", "postgres://x", "sqlserver://?database=db", "sqlserver://u:secret@h:bad port/"} {
		err := CheckURL(u)
		if err == nil {
			t.Errorf("CheckURL(%q) = nil, want an error", u)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("CheckURL(%q) error %q shows the password", u, err)
		}
	}
}

// TestMarkPoisoned marks the sensors of a poisoned message: final outcomes
// (done, empty, poisoned) stay as they are, a failed or running one becomes
// poisoned keeping its last error, a missing one is created poisoned with no
// attempt; marking again changes nothing.
func TestMarkPoisoned(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store, uniq string) {
		ctx := t.Context()
		run := uniq + "run"
		k := func(d string) sensor.Key { return sensor.Key{Device: d, Sensor: "1"} }
		upd := ms(1700000000000)
		for _, o := range []sensor.Outcome{
			{Key: k("done"), Status: sensor.StatusDone, Rows: 5, Attempts: 1, Blob: "b", ModelETag: `"0x1"`},
			{Key: k("empty"), Status: sensor.StatusEmpty, Attempts: 2},
			{Key: k("failed"), Status: sensor.StatusFailed, Attempts: 4, Error: "read points: db down"},
			{Key: k("poisoned"), Status: sensor.StatusPoisoned, Attempts: 5, Error: "model blob models/x not found"},
		} {
			o.Run, o.Updated = run, upd
			if err := s.FinishOutcome(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.StartAttempt(ctx, run, k("running")); err != nil {
			t.Fatal(err)
		}
		const reason = "message reached score-jobs-poison"
		keys := []sensor.Key{k("done"), k("empty"), k("failed"), k("poisoned"), k("running"), k("missing")}
		want := map[string]bool{"failed": true, "running": true, "missing": true}
		for round := range 2 {
			for _, key := range keys {
				changed, err := s.MarkPoisoned(ctx, run, key, reason)
				if err != nil {
					t.Fatal(err)
				}
				if changed != (want[key.Device] && round == 0) {
					t.Errorf("round %d: MarkPoisoned(%s) changed = %v", round, key.Device, changed)
				}
			}
		}
		got, err := s.Outcomes(ctx, run)
		if err != nil {
			t.Fatal(err)
		}
		wantOuts := []sensor.Outcome{
			{Run: run, Key: k("done"), Status: sensor.StatusDone, Rows: 5, Attempts: 1, Blob: "b", ModelETag: `"0x1"`},
			{Run: run, Key: k("empty"), Status: sensor.StatusEmpty, Attempts: 2},
			{Run: run, Key: k("failed"), Status: sensor.StatusPoisoned, Attempts: 4, Error: reason + "; last recorded error: read points: db down"},
			{Run: run, Key: k("missing"), Status: sensor.StatusPoisoned, Attempts: 0, Error: reason},
			{Run: run, Key: k("poisoned"), Status: sensor.StatusPoisoned, Attempts: 5, Error: "model blob models/x not found"},
			{Run: run, Key: k("running"), Status: sensor.StatusPoisoned, Attempts: 1, Error: reason},
		}
		if d := cmp.Diff(wantOuts, got, cmpopts.IgnoreFields(sensor.Outcome{}, "Updated")); d != "" {
			t.Errorf("outcomes after MarkPoisoned (-want +got):\n%s", d)
		}
	})
}

// TestSQLServerSourceChars: the constant the handler checks event sources
// against is the width the SQL Server migrations give every source column.
func TestSQLServerSourceChars(t *testing.T) {
	files, err := fs.Glob(migrations, "migrations/sqlserver/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?i)\bsource\s+NVARCHAR\((\d+)\)`)
	found := 0
	for _, f := range files {
		b, err := fs.ReadFile(migrations, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			found++
			if m[1] != strconv.Itoa(SQLServerSourceChars) {
				t.Errorf("%s: source NVARCHAR(%s), SQLServerSourceChars is %d", f, m[1], SQLServerSourceChars)
			}
		}
	}
	if found < 2 {
		t.Errorf("%d source columns found in the SQL Server migrations, want readings and ingest_progress", found)
	}
}

// LatestRun keeps scoring runs and train runs apart: a later train run does
// not become the latest scoring run.
func TestLatestRunKinds(t *testing.T) {
	s := mustOpen(t, "sqlite::memory:")
	ctx := t.Context()
	w := sensor.Window{Start: ms(0), End: ms(3600000)}
	score := sensor.Run{ID: w.RunID(), Window: w, Sensors: 2, Created: ms(7200000)}
	train := sensor.Run{ID: sensor.TrainRunPrefix + w.RunID(), Window: w, Sensors: 2, Created: ms(7260000)}
	if _, err := s.LatestRun(ctx, true); !errors.Is(err, ErrNotFound) {
		t.Errorf("latest train run before any: %v, want ErrNotFound", err)
	}
	for _, r := range []sensor.Run{score, train} {
		if err := s.PutRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		train bool
		want  string
	}{{false, score.ID}, {true, train.ID}} {
		got, err := s.LatestRun(ctx, tc.train)
		if err != nil || got.ID != tc.want {
			t.Errorf("LatestRun(train=%v) = %s, %v; want %s", tc.train, got.ID, err, tc.want)
		}
	}
}
