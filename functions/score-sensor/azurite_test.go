package scoresensor

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/sqlstore"
	"github.com/batchscore/batchscore/internal/storage"
	"github.com/batchscore/batchscore/internal/testenv"
)

var (
	_ ModelStore     = (*storage.Blobs)(nil)
	_ PredictionSink = (*storage.Blobs)(nil)
	_ PointSource    = (*sqlstore.Store)(nil)
	_ OutcomeStore   = (*sqlstore.Store)(nil)
)

// TestRealAdapters scores two reference sensors with models in Azurite and
// readings in SQLite, then replaces a model blob and checks that the next
// message uses the new model, and that a missing model is poisoned on the
// last attempt.
func TestRealAdapters(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Azurite")
	}
	ctx := t.Context()
	blobs := testenv.Storage(t, "models", "preds").Blobs()
	model := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(referenceDir, "models", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, k := range []sensor.Key{k11, k12} {
		if err := blobs.Put(ctx, "models", k.ModelName(), model(k.ModelName()), ""); err != nil {
			t.Fatal(err)
		}
	}
	st := testenv.SQLite(t)
	var rs []sensor.StoredReading
	for i, r := range readCSV(t, "sensor_data.csv") {
		if r[1] != "1" || (r[2] != "1" && r[2] != "2") {
			continue
		}
		ts, _ := time.Parse("2006-01-02 15:04:05.000", r[0])
		v, _ := strconv.ParseFloat(r[3], 64)
		rs = append(rs, sensor.StoredReading{Reading: sensor.Reading{TS: ts, Key: sensor.Key{Device: r[1], Sensor: r[2]}, Value: v}, Source: "h/0", Sequence: int64(i)})
	}
	if _, err := st.InsertReadings(ctx, rs); err != nil {
		t.Fatal(err)
	}

	f := New(Config{}, blobs, st, blobs, st)
	w := sensor.Window{Start: time.Date(2018, 8, 28, 23, 0, 0, 0, time.UTC), End: time.Date(2018, 8, 29, 0, 0, 0, 0, time.UTC)}
	run := func(dequeue int64, keys ...sensor.Key) (Result, error) {
		job := sensor.Job{Run: w.RunID(), Window: w}
		for _, k := range keys {
			job.Sensors = append(job.Sensors, sensor.JobEntry{Key: k, Model: k.ModelName()})
		}
		body, err := json.Marshal(job)
		if err != nil {
			t.Fatal(err)
		}
		return f.Run(ctx, azfunc.QueueMessage{ID: "m", DequeueCount: dequeue, Body: body})
	}
	res, err := run(1, k11, k12)
	if err != nil {
		t.Fatal(err)
	}
	// What scikit-learn predicted for the same rows.
	wantRows, wantAnom := 0, 0
	for _, e := range readCSV(t, "expected_predictions.csv") {
		ts, _ := time.Parse("2006-01-02 15:04:05.000", e[0])
		if e[1] == "1" && (e[2] == "1" || e[2] == "2") && ts.After(w.Start) && !ts.After(w.End) {
			wantRows++
			if e[5] == "1" {
				wantAnom++
			}
		}
	}
	if res.Done != 2 || res.Rows != wantRows || res.Anomalies != wantAnom {
		t.Errorf("first run %+v, want 2 done, %d rows, %d anomalies", res, wantRows, wantAnom)
	}
	first, _, err := blobs.Get(ctx, "preds", BlobName(w.RunID(), k11))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(first), CSVHeader+"2018-08-28 23:00:05.000,1,1,10.16,0,") {
		t.Errorf("blob starts %q", first[:120])
	}

	// Unchanged models: served from the cache after a conditional GET.
	if _, err := run(1, k11); err != nil {
		t.Fatal(err)
	}
	if s := f.Cache().Stats(); s.Loads != 2 || s.Hits != 1 {
		t.Errorf("cache %+v, want 2 loads and 1 hit", s)
	}
	again, _, err := blobs.Get(ctx, "preds", BlobName(w.RunID(), k11))
	if err != nil || string(again) != string(first) {
		t.Errorf("re-scoring wrote different bytes (%v)", err)
	}

	// Replace model_1_1 with the all-anomaly model_1_2: the next message sees it.
	if err := blobs.Put(ctx, "models", k11.ModelName(), model(k12.ModelName()), ""); err != nil {
		t.Fatal(err)
	}
	res, err = run(1, k11)
	if err != nil {
		t.Fatal(err)
	}
	if res.Anomalies != res.Rows {
		t.Errorf("after replacing the model: %d anomalies in %d rows, want all", res.Anomalies, res.Rows)
	}
	if s := f.Cache().Stats(); s.Loads != 3 {
		t.Errorf("cache %+v, want a third load", s)
	}

	// A missing model on the last attempt is poisoned, with the reason recorded.
	k13 := sensor.Key{Device: "1", Sensor: "3"}
	_, err = run(5, k13)
	if !azfunc.IsPermanent(err) {
		t.Fatalf("missing model: err = %v, want permanent", err)
	}
	outs, err := st.Outcomes(ctx, w.RunID())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, o := range outs {
		got[o.Key.String()] = o.Status
		if o.Key == k13 && !strings.Contains(o.Error, "not found") {
			t.Errorf("outcome error %q", o.Error)
		}
	}
	want := map[string]string{"1/1": sensor.StatusDone, "1/2": sensor.StatusDone, "1/3": sensor.StatusPoisoned}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("outcome of %s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
}

// TestModelSizeLimit reads a reference model from Azurite through the size
// limit: one byte over the limit is a permanent failure that names the sizes,
// at the limit it scores.
func TestModelSizeLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Azurite")
	}
	ctx := t.Context()
	blobs := testenv.Storage(t, "models", "preds").Blobs()
	model, err := os.ReadFile(filepath.Join(referenceDir, "models", k11.ModelName()))
	if err != nil {
		t.Fatal(err)
	}
	if err := blobs.Put(ctx, "models", k11.ModelName(), model, ""); err != nil {
		t.Fatal(err)
	}
	st := testenv.SQLite(t)
	body := jobBody(t, k11)
	for _, tc := range []struct {
		limit  int64
		status string
	}{
		{int64(len(model)) - 1, sensor.StatusFailed},
		{int64(len(model)), sensor.StatusEmpty},
	} {
		f := New(Config{MaxModelBytes: tc.limit}, blobs, st, blobs, st)
		_, err := f.Run(ctx, azfunc.QueueMessage{ID: "m", DequeueCount: 1, Body: body})
		outs, oerr := st.Outcomes(ctx, runID)
		if oerr != nil || len(outs) != 1 {
			t.Fatalf("outcomes %v, %v", outs, oerr)
		}
		if outs[0].Status != tc.status {
			t.Errorf("limit %d: outcome %q (%s), want %q", tc.limit, outs[0].Status, outs[0].Error, tc.status)
		}
		if tc.status != sensor.StatusFailed {
			if err != nil {
				t.Errorf("limit %d: %v", tc.limit, err)
			}
			continue
		}
		want := fmt.Sprintf("model blob models/%s is %d bytes, over the limit of %d", k11.ModelName(), len(model), tc.limit)
		if !azfunc.IsPermanent(err) || !strings.Contains(outs[0].Error, want) {
			t.Errorf("limit %d: err %v (permanent %v), outcome error %q; want a permanent error saying %q", tc.limit, err, azfunc.IsPermanent(err), outs[0].Error, want)
		}
	}
}
