package runstatus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/golden"
	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/sqlstore"
	"github.com/batchscore/batchscore/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var _ SummaryStore = (*sqlstore.Store)(nil)

func get(query map[string]string) azfunc.HTTPRequest {
	return azfunc.HTTPRequest{Method: http.MethodGet, URL: "http://localhost/api/run-status", Query: query}
}

// seed registers two scoring runs in a real SQLite store, an older finished
// one and a newer one in progress with every status, and a train run
// registered after both.
func seed(t *testing.T) *sqlstore.Store {
	t.Helper()
	st := testenv.SQLite(t)
	ctx := t.Context()
	created := time.Date(2018, 8, 29, 3, 15, 0, 0, time.UTC)
	old := sensor.Window{Start: time.Date(2018, 8, 29, 1, 0, 0, 0, time.UTC), End: time.Date(2018, 8, 29, 2, 0, 0, 0, time.UTC)}
	cur := sensor.Window{Start: old.End, End: old.End.Add(time.Hour)}
	for _, r := range []sensor.Run{
		{ID: old.RunID(), Window: old, Sensors: 1, Created: created.Add(-time.Hour), Scheduled: true,
			Ingest: sensor.IngestMark{Oldest: old.End.Add(9 * time.Minute), Newest: old.End.Add(10 * time.Minute)}},
		// A backfill whose fan-out has not finished, fanned out while ingest was behind.
		{ID: cur.RunID(), Window: cur, Sensors: 8, Created: created,
			Ingest: sensor.IngestMark{Oldest: cur.End.Add(-time.Minute), Newest: cur.End.Add(time.Second)}},
	} {
		if err := st.PutRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	train := sensor.Run{ID: sensor.TrainRunPrefix + cur.RunID(), Window: cur, Sensors: 1, Created: created.Add(time.Minute)}
	if err := st.PutRun(ctx, train); err != nil {
		t.Fatal(err)
	}
	if err := st.FinishFanOut(ctx, old.RunID(), created.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	finish := func(run string, dev, sen, status string, rows, anom int, dur time.Duration, errText string) {
		k := sensor.Key{Device: dev, Sensor: sen}
		if _, err := st.StartAttempt(ctx, run, k); err != nil {
			t.Fatal(err)
		}
		if status == sensor.StatusRunning {
			return
		}
		o := sensor.Outcome{Run: run, Key: k, Status: status, Rows: rows, Anomalies: anom, Duration: dur, Error: errText, Updated: created}
		if rows > 0 || status == sensor.StatusEmpty {
			o.Blob = run + "/preds_" + dev + "_" + sen + ".csv"
			o.ModelETag = `"0x8DC1F2A3B4C5D6` + dev + sen + `"`
		}
		if err := st.FinishOutcome(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	finish(old.RunID(), "1", "1", sensor.StatusDone, 720, 3, 9*time.Millisecond, "")
	finish(cur.RunID(), "1", "1", sensor.StatusDone, 720, 10, 12*time.Millisecond, "")
	finish(cur.RunID(), "1", "2", sensor.StatusDone, 719, 719, 30*time.Millisecond, "")
	finish(cur.RunID(), "1", "3", sensor.StatusDone, 700, 0, 7*time.Millisecond, "")
	finish(cur.RunID(), "2", "1", sensor.StatusEmpty, 0, 0, 2*time.Millisecond, "")
	finish(cur.RunID(), "2", "2", sensor.StatusFailed, 0, 0, 1*time.Millisecond, "read points: db down")
	finish(cur.RunID(), "2", "3", sensor.StatusPoisoned, 0, 0, 1*time.Millisecond, "model blob models/model_2_3 not found")
	finish(cur.RunID(), "3", "1", sensor.StatusRunning, 0, 0, 0, "")
	finish(train.ID, "1", "1", sensor.StatusDone, 720, 2, 50*time.Millisecond, "")
	return st
}

func TestStatusGolden(t *testing.T) {
	f := New(seed(t))
	for _, tc := range []struct {
		name   string
		query  map[string]string
		golden string
	}{
		{"latest by default", nil, "latest.json"},
		{"latest by name", map[string]string{"run": "latest"}, "latest.json"},
		{"latest train run", map[string]string{"run": "latest-train"}, "train.json"},
		{"by id", map[string]string{"run": "20180829T020000Z-20180829T030000Z"}, "latest.json"},
		{"finished run", map[string]string{"run": "20180829T010000Z-20180829T020000Z"}, "finished.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := f.Run(t.Context(), get(tc.query))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK || resp.Headers["Content-Type"] != "application/json" {
				t.Fatalf("status %d, headers %v", resp.StatusCode, resp.Headers)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, []byte(resp.Body), "", "  "); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			golden.Check(t, filepath.Join("testdata", tc.golden), pretty.Bytes(), *update)
		})
	}
}

type failingStore struct{ err error }

func (s failingStore) RunSummary(context.Context, string) (sqlstore.Summary, error) {
	return sqlstore.Summary{}, s.err
}
func (s failingStore) LatestRun(context.Context, bool) (sensor.Run, error) {
	return sensor.Run{}, s.err
}
func (s failingStore) Outcomes(context.Context, string) ([]sensor.Outcome, error) {
	return nil, s.err
}

func TestStatusErrors(t *testing.T) {
	empty := testenv.SQLite(t)
	for _, tc := range []struct {
		name      string
		store     SummaryStore
		req       azfunc.HTTPRequest
		status    int  // expected status when err is nil
		permanent bool // expected error kind when status is 0
	}{
		{"no runs yet", empty, get(nil), http.StatusNotFound, false},
		{"unknown run", seed(t), get(map[string]string{"run": "nope"}), http.StatusNotFound, false},
		{"post", seed(t), azfunc.HTTPRequest{Method: http.MethodPost}, http.StatusMethodNotAllowed, false},
		{"long id", seed(t), get(map[string]string{"run": strings.Repeat("x", 200)}), 0, true},
		{"store down", failingStore{errors.New("db down")}, get(nil), 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := New(tc.store).Run(t.Context(), tc.req)
			if tc.status != 0 {
				if err != nil || resp.StatusCode != tc.status {
					t.Fatalf("got %d, %v; want %d", resp.StatusCode, err, tc.status)
				}
				return
			}
			if err == nil || azfunc.IsPermanent(err) != tc.permanent {
				t.Fatalf("err = %v, want permanent=%v", err, tc.permanent)
			}
		})
	}
}

// TestStatusKeysSnakeCase checks every member name of the status document,
// at any depth, against the document's naming (run_id style snake_case, as
// fanned_out and duration_ms): a camelCase name slipped in once (modelEtag).
func TestStatusKeysSnakeCase(t *testing.T) {
	resp, err := New(seed(t)).Run(t.Context(), get(nil))
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal([]byte(resp.Body), &doc); err != nil {
		t.Fatal(err)
	}
	seen := 0
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				seen++
				if strings.ToLower(k) != k || strings.Contains(k, "-") {
					t.Errorf("%s.%s: not snake_case", path, k)
				}
				walk(path+"."+k, e)
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		}
	}
	walk("$", doc)
	if seen < 20 {
		t.Fatalf("only %d members in the document: the seed does not exercise it", seen)
	}
}
