package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/sqlstore"
)

// statusStore opens a fresh SQLite store with one run of 4 sensors, of which
// none has an outcome yet.
func statusStore(t *testing.T) (*sqlstore.Store, string, sensor.Run) {
	t.Helper()
	url := "sqlite:" + filepath.Join(t.TempDir(), "status.db")
	st, err := sqlstore.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w := sensor.Window{Start: time.Date(2018, 8, 28, 23, 0, 0, 0, time.UTC), End: time.Date(2018, 8, 29, 0, 0, 0, 0, time.UTC)}
	r := sensor.Run{ID: w.RunID(), Window: w, Sensors: 4, Created: w.End, Scheduled: true,
		Ingest: sensor.IngestMark{Oldest: w.End.Add(-2 * time.Minute), Newest: w.End.Add(time.Second)}}
	if err := st.PutRun(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	return st, url, r
}

func finish(t *testing.T, st *sqlstore.Store, o sensor.Outcome) {
	t.Helper()
	if err := st.FinishOutcome(t.Context(), o); err != nil {
		t.Fatal(err)
	}
}

func status(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), append([]string{"status"}, args...), &stdout, &stderr)
	return stdout.String(), err
}

// batchscore status shows a run while it runs (pending, in flight, failed and
// retrying) and after (done, poisoned, anomalies, slowest sensors), by run id and
// as the latest run, as text and as JSON.
func TestStatusWhileRunningAndAfter(t *testing.T) {
	st, url, r := statusStore(t)
	k := func(d, s string) sensor.Key { return sensor.Key{Device: d, Sensor: s} }

	// While it runs: 1/1 done, 1/2 in flight, 1/3 failed once (retrying), 1/4 not started.
	finish(t, st, sensor.Outcome{Run: r.ID, Key: k("1", "1"), Status: sensor.StatusDone, Rows: 720, Anomalies: 3, Attempts: 1, Duration: 40 * time.Millisecond})
	if _, err := st.StartAttempt(t.Context(), r.ID, k("1", "2")); err != nil {
		t.Fatal(err)
	}
	finish(t, st, sensor.Outcome{Run: r.ID, Key: k("1", "3"), Status: sensor.StatusFailed, Attempts: 1, Error: "model blob: not found"})
	out, err := status(t, "-sql", url, "-run", r.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"run " + r.ID + "  window (2018-08-28T23:00:00Z, 2018-08-29T00:00:00Z]",
		"sensors: 4 total, 1 done, 0 empty, 1 failed (retrying), 0 poisoned, 1 in flight, 1 pending",
		"rows: 720 scored, 3 anomalies",
		"fan-out: scheduled, not finished",
		"ingest at fan-out: every partition stored up to 2018-08-28T23:58:00Z (newest 2018-08-29T00:00:01Z), before the window end",
		"slowest sensors:",
		"1/1  40ms  720 rows  3 anomalies  1 attempts",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status while running lacks %q:\n%s", want, out)
		}
	}

	// After: 1/2 done and slower, 1/3 poisoned after 5 attempts, 1/4 done.
	finish(t, st, sensor.Outcome{Run: r.ID, Key: k("1", "2"), Status: sensor.StatusDone, Rows: 700, Anomalies: 10, Attempts: 1, Duration: 900 * time.Millisecond})
	finish(t, st, sensor.Outcome{Run: r.ID, Key: k("1", "3"), Status: sensor.StatusPoisoned, Attempts: 5, Error: "model blob: not found"})
	finish(t, st, sensor.Outcome{Run: r.ID, Key: k("1", "4"), Status: sensor.StatusDone, Rows: 710, Anomalies: 0, Attempts: 2, Duration: 100 * time.Millisecond})
	out, err = status(t, "-sql", url) // the latest run
	if err != nil {
		t.Fatal(err)
	}
	if want := "sensors: 4 total, 3 done, 0 empty, 0 failed (retrying), 1 poisoned, 0 in flight, 0 pending"; !strings.Contains(out, want) {
		t.Errorf("status after the run lacks %q:\n%s", want, out)
	}
	if want := "rows: 2,130 scored, 13 anomalies"; !strings.Contains(out, want) {
		t.Errorf("status after the run lacks %q:\n%s", want, out)
	}
	i, j, l := strings.Index(out, "1/2  900ms"), strings.Index(out, "1/4  100ms"), strings.Index(out, "1/1   40ms")
	if i < 0 || j < 0 || l < 0 || !(i < j && j < l) {
		t.Errorf("slowest sensors not listed slowest first (1/2, 1/4, 1/1):\n%s", out)
	}

	out, err = status(t, "-sql", url, "-run", r.ID, "-json")
	if err != nil {
		t.Fatal(err)
	}
	var sum struct {
		Run, Window                               any
		Total, Done, Poisoned, Running, Anomalies int
		Complete                                  bool
		Slowest                                   []struct {
			Device, Sensor string
			DurationMs     int64 `json:"duration_ms"`
		}
		Failures []struct{ Device, Sensor, Status, Error string }
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("-json output does not parse: %v\n%s", err, out)
	}
	if sum.Run != r.ID || sum.Total != 4 || sum.Done != 3 || sum.Poisoned != 1 || sum.Running != 0 || sum.Anomalies != 13 || !sum.Complete ||
		len(sum.Slowest) != 3 || sum.Slowest[0].Device != "1" || sum.Slowest[0].Sensor != "2" || sum.Slowest[0].DurationMs != 900 ||
		len(sum.Failures) != 1 || sum.Failures[0].Status != sensor.StatusPoisoned {
		t.Errorf("-json summary = %+v\n%s", sum, out)
	}
	var doc any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	checkSnakeKeys(t, "", doc)
}

// checkSnakeKeys fails on any object key of v that is not snake_case, and on a
// duration key without its unit.
func checkSnakeKeys(t *testing.T, path string, v any) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if !snakeCase.MatchString(k) {
				t.Errorf("-json key %s%s is not snake_case", path, k)
			}
			if strings.Contains(k, "duration") && !strings.HasSuffix(k, "_ms") {
				t.Errorf("-json key %s%s is a duration without its unit (_ms)", path, k)
			}
			checkSnakeKeys(t, path+k+".", x)
		}
	case []any:
		for _, x := range v {
			checkSnakeKeys(t, path, x)
		}
	}
}

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// -watch prints until the run has nothing pending, in flight or retrying.
func TestStatusWatchEndsWhenRunCompletes(t *testing.T) {
	st, url, r := statusStore(t)
	for _, s := range []string{"1", "2", "3"} {
		finish(t, st, sensor.Outcome{Run: r.ID, Key: sensor.Key{Device: "1", Sensor: s}, Status: sensor.StatusDone, Rows: 1, Attempts: 1})
	}
	go func() {
		time.Sleep(150 * time.Millisecond)
		_ = st.FinishOutcome(t.Context(), sensor.Outcome{Run: r.ID, Key: sensor.Key{Device: "1", Sensor: "4"}, Status: sensor.StatusEmpty, Attempts: 1})
	}()
	// -watch returns when the context ends, so a run that never completes fails
	// the checks below instead of hanging the test.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	if err := run(ctx, []string{"status", "-sql", url, "-run", r.ID, "-watch", "20ms"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	out := stdout.String()
	n := strings.Count(out, "sensors: 4 total")
	last := out[strings.LastIndex(out, "sensors: "):]
	if n < 2 || !strings.HasPrefix(last, "sensors: 4 total, 3 done, 1 empty, 0 failed (retrying), 0 poisoned, 0 in flight, 0 pending\n") {
		t.Errorf("-watch printed %d summaries, want at least 2, the last of the complete run:\n%s", n, out)
	}
}

func TestStatusErrors(t *testing.T) {
	_, url, _ := statusStore(t)
	if _, err := status(t, "-sql", url, "-run", "20990101T000000Z-20990101T010000Z"); err == nil || !errors.Is(err, sqlstore.ErrNotFound) {
		t.Errorf("unknown run: err = %v, want one wrapping ErrNotFound", err)
	}
	t.Setenv("SQL_URL", "")
	if _, err := status(t); err == nil || !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), "SQL_URL") {
		t.Errorf("no -sql: err = %v, want a usage error naming SQL_URL", err)
	}
	if _, err := status(t, "-sql", url, "extra"); !errors.As(err, new(usageError)) {
		t.Errorf("extra argument: err = %v, want a usage error", err)
	}
	// A SQLite file that does not exist is refused, not created empty.
	missing := filepath.Join(t.TempDir(), "missing.db")
	if _, err := status(t, "-sql", "sqlite:"+missing); err == nil || !strings.Contains(err.Error(), "no SQLite database at "+missing) {
		t.Errorf("missing SQLite file: err = %v, want one saying there is no database at %s", err, missing)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("status created %s (stat: %v)", missing, err)
	}
}

// The text output names the sensors whose model needs a look, with the
// verdict in words, as -json does in unhealthy and model_health.
func TestStatusShowsModelHealth(t *testing.T) {
	st, url, r := statusStore(t)
	k := func(s string) sensor.Key { return sensor.Key{Device: "1", Sensor: s} }
	finish(t, st, sensor.Outcome{Run: r.ID, Key: k("1"), Status: sensor.StatusDone, Rows: 720, Anomalies: 3, Attempts: 1})
	finish(t, st, sensor.Outcome{Run: r.ID, Key: k("2"), Status: sensor.StatusDone, Rows: 720, Anomalies: 720, Attempts: 1})
	finish(t, st, sensor.Outcome{Run: r.ID, Key: k("3"), Status: sensor.StatusDone, Rows: 700, Anomalies: 0, Attempts: 1})
	out, err := status(t, "-sql", url)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"model health: 2 sensors need a look",
		"1/2  flags-all: the model flags 100 % of 720 rows as anomalies",
		"1/3  flags-none: the model flags none of 700 rows",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if i := strings.Index(out, "model health"); i >= 0 && strings.Contains(out[i:], "1/1") {
		t.Errorf("status lists the healthy sensor 1/1 under model health:\n%s", out)
	}
}

// A train run registered after the latest scoring run does not hide it:
// status shows the latest scoring run by default and the latest train run
// with -train.
func TestStatusLatestIsScoringRunUnlessTrain(t *testing.T) {
	st, url, r := statusStore(t)
	w := r.Window
	tr := sensor.Run{ID: sensor.TrainRunPrefix + w.RunID(), Window: w, Sensors: 2, Created: r.Created.Add(time.Minute)}
	if err := st.PutRun(t.Context(), tr); err != nil {
		t.Fatal(err)
	}
	out, err := status(t, "-sql", url)
	if err != nil {
		t.Fatal(err)
	}
	if want := "run " + r.ID + "  "; !strings.HasPrefix(out, want) {
		t.Errorf("status shows\n%s\nwant the scoring run (%q)", out, want)
	}
	out, err = status(t, "-sql", url, "-train")
	if err != nil {
		t.Fatal(err)
	}
	if want := "run " + tr.ID + "  "; !strings.HasPrefix(out, want) {
		t.Errorf("status -train shows\n%s\nwant the train run (%q)", out, want)
	}
	if want := "kind: train"; !strings.Contains(out, want) || strings.Contains(out, "fan-out:") {
		t.Errorf("status -train lacks %q or shows a fan-out:\n%s", want, out)
	}
	if _, err := status(t, "-sql", url, "-train", "-run", r.ID); !errors.As(err, new(usageError)) {
		t.Errorf("-train with -run: err = %v, want a usage error", err)
	}
}
