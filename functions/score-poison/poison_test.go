package scorepoison

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/sqlstore"
	"github.com/batchscore/batchscore/internal/storage"
	"github.com/batchscore/batchscore/internal/testenv"
)

var (
	_ OutcomeStore = (*sqlstore.Store)(nil)
	_ BlobSink     = (*storage.Blobs)(nil)
)

var (
	window = sensor.Window{Start: time.Date(2018, 8, 28, 23, 0, 0, 0, time.UTC), End: time.Date(2018, 8, 29, 0, 0, 0, 0, time.UTC)}
	runID  = window.RunID()
	k11    = sensor.Key{Device: "1", Sensor: "1"}
	k12    = sensor.Key{Device: "1", Sensor: "2"}
	k13    = sensor.Key{Device: "1", Sensor: "3"}
)

// jobBody is a score-jobs message body as timer-fanout writes it.
func jobBody(t *testing.T, keys ...sensor.Key) []byte {
	t.Helper()
	entries := make([]sensor.JobEntry, len(keys))
	for i, k := range keys {
		entries[i] = sensor.JobEntry{Key: k, Model: k.ModelName()}
	}
	b, err := json.Marshal(sensor.Job{Run: runID, Window: window, Sensors: entries})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPoisonQueue runs messages of the poison queue against a real SQLite
// store and Azurite: every sensor whose outcome is not final ends poisoned
// and the others are left alone, twice over without change; a message that
// is not a job, and on its last delivery a message whose sensors cannot be
// marked, are set aside in rejects/ and answered without an error, so the
// function never fails a message for good.
func TestPoisonQueue(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Azurite")
	}
	ctx := t.Context()
	blobs := testenv.Storage(t, "rejects").Blobs()
	cfg := Config{Queue: "score-jobs-poison", MaxDequeueCount: 5}

	t.Run("marks the sensors without a final outcome", func(t *testing.T) {
		st := testenv.SQLite(t)
		if err := st.FinishOutcome(ctx, sensor.Outcome{Run: runID, Key: k11, Status: sensor.StatusDone, Rows: 3, Attempts: 1, Blob: "b"}); err != nil {
			t.Fatal(err)
		}
		if err := st.FinishOutcome(ctx, sensor.Outcome{Run: runID, Key: k12, Status: sensor.StatusFailed, Attempts: 5, Error: "read points: db down"}); err != nil {
			t.Fatal(err)
		}
		f := New(cfg, st, blobs)
		msg := azfunc.QueueMessage{ID: "p1", DequeueCount: 1, Body: jobBody(t, k11, k12, k13)}
		for round, want := range []Result{
			{Run: runID, Sensors: 3, Poisoned: 2, Final: 1},
			{Run: runID, Sensors: 3, Poisoned: 0, Final: 3}, // a redelivery changes nothing
		} {
			res, err := f.Run(ctx, msg)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, res); d != "" {
				t.Errorf("round %d: result (-want +got):\n%s", round, d)
			}
		}
		outs, err := st.Outcomes(ctx, runID)
		if err != nil {
			t.Fatal(err)
		}
		reason := "reached score-jobs-poison without a final outcome"
		wantOuts := []sensor.Outcome{
			{Run: runID, Key: k11, Status: sensor.StatusDone, Rows: 3, Attempts: 1, Blob: "b"},
			{Run: runID, Key: k12, Status: sensor.StatusPoisoned, Attempts: 5},
			{Run: runID, Key: k13, Status: sensor.StatusPoisoned, Attempts: 0},
		}
		if d := cmp.Diff(wantOuts, outs, cmpopts.IgnoreFields(sensor.Outcome{}, "Updated", "Error")); d != "" {
			t.Errorf("outcomes (-want +got):\n%s", d)
		}
		if len(outs) == 3 && (!strings.Contains(outs[1].Error, reason) || !strings.Contains(outs[1].Error, "db down") || !strings.Contains(outs[2].Error, reason)) {
			t.Errorf("errors %q, %q; want the reason %q, and the last recorded error kept", outs[1].Error, outs[2].Error, reason)
		}
	})

	setAside := func(t *testing.T, id string) map[string]any {
		t.Helper()
		data, _, err := blobs.Get(ctx, "rejects", "poison/score-jobs-poison/"+id+".json")
		if err != nil {
			t.Fatalf("set-aside blob: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("set-aside blob %s: %v", data, err)
		}
		return m
	}

	t.Run("a message that is not a job is set aside", func(t *testing.T) {
		f := New(cfg, testenv.SQLite(t), blobs)
		for range 2 {
			res, err := f.Run(ctx, azfunc.QueueMessage{ID: "p2", DequeueCount: 1, Body: []byte("not a job")})
			if err != nil || res.SetAside != "poison/score-jobs-poison/p2.json" {
				t.Fatalf("Run = %+v, %v; want it set aside without an error", res, err)
			}
		}
		m := setAside(t, "p2")
		// The record is the shared azfunc.SetAsideRecord, as ingest's: it names the function.
		if m["body"] != "not a job" || !strings.Contains(m["reason"].(string), "decode job") || m["id"] != "p2" || m["function"] != "score-poison" || m["dequeue_count"] != 1.0 {
			t.Errorf("set-aside blob %v", m)
		}
	})

	t.Run("store down: retried, then set aside on the last delivery", func(t *testing.T) {
		st := testenv.SQLite(t)
		st.Close() // the fault: every statement fails
		f := New(cfg, st, blobs)
		body := jobBody(t, k11)
		if _, err := f.Run(ctx, azfunc.QueueMessage{ID: "p3", DequeueCount: 1, Body: body}); err == nil {
			t.Error("first delivery: err = nil, want the store's error (the host tries again)")
		}
		if _, _, err := blobs.Get(ctx, "rejects", "poison/score-jobs-poison/p3.json"); err == nil {
			t.Error("set aside before the last delivery")
		}
		res, err := f.Run(ctx, azfunc.QueueMessage{ID: "p3", DequeueCount: 5, Body: body})
		if err != nil || res.SetAside == "" {
			t.Fatalf("last delivery: %+v, %v; want it set aside without an error", res, err)
		}
		m := setAside(t, "p3")
		if m["body"] != string(body) || !strings.Contains(m["reason"].(string), "database is closed") {
			t.Errorf("set-aside blob %v", m)
		}
	})
}

// failingStores fail every call: a wake-up message must make none.
type failingStores struct{ calls int }

func (f *failingStores) MarkPoisoned(context.Context, string, sensor.Key, string) (bool, error) {
	f.calls++
	return false, errors.New("store called")
}

func (f *failingStores) Put(context.Context, string, string, []byte, string) error {
	f.calls++
	return errors.New("blob called")
}

// TestWakeMessage: fan-out's wake-up message in the poison queue is answered
// without an error and without a store or blob call (it is not set aside); one
// that lists sensors is not a valid job.
func TestWakeMessage(t *testing.T) {
	fs := &failingStores{}
	f := New(Config{}, fs, fs)
	res, err := f.Run(t.Context(), azfunc.QueueMessage{ID: "w", DequeueCount: 5, Body: []byte(sensor.WakeMessage(runID))})
	if err != nil || !res.Wake || res.Run != runID || res.SetAside != "" || fs.calls != 0 {
		t.Errorf("Run = %+v, %v after %d store calls; want a wake-up answered without a call", res, err, fs.calls)
	}
	body := `{"run":"r","wake":true,"sensors":[{"device":"1","sensor":"1","model":"model_1_1"}]}`
	res, err = f.Run(t.Context(), azfunc.QueueMessage{ID: "w2", DequeueCount: 1, Body: []byte(body)})
	if err == nil || res.Wake || fs.calls != 1 {
		t.Errorf("wake-up with sensors: Run = %+v, %v after %d calls; want it set aside (the failing sink's error)", res, err, fs.calls)
	}
}

// TestResultJSON: the logged result uses the snake_case keys of the
// project's other status and log documents.
func TestResultJSON(t *testing.T) {
	b, err := json.Marshal(Result{Run: "r", Sensors: 3, Poisoned: 2, Final: 1, SetAside: "poison/q/m.json"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"run":"r","sensors":3,"poisoned":2,"final":1,"set_aside":"poison/q/m.json"}`
	if string(b) != want {
		t.Errorf("Result encodes as\n%s\nwant\n%s", b, want)
	}
}
