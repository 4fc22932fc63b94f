package scoresensor

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/sqlstore"
	"github.com/batchscore/batchscore/internal/testenv"
)

// replacingPoints is the fault of a model replaced during a run: reading the
// points of sensor `at` first overwrites the model blob of another sensor.
type replacingPoints struct {
	*sqlstore.Store
	at      sensor.Key
	replace func(ctx context.Context)
}

func (p *replacingPoints) Points(ctx context.Context, key sensor.Key, w sensor.Window, width time.Duration) ([]sensor.Point, error) {
	if key == p.at && p.replace != nil {
		p.replace(ctx)
		p.replace = nil
	}
	return p.Store.Points(ctx, key, w, width)
}

// TestModelVersionRecorded replaces model blobs in Azurite between two runs
// and between two sensors of one message, and checks that each sensor's
// outcome row and predictions blob metadata name the ETag of the model
// version that scored it, and that the predictions follow that version (the
// cache, which revalidates by ETag, serves no stale model).
func TestModelVersionRecorded(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Azurite")
	}
	ctx := t.Context()
	blobs := testenv.Storage(t, "models", "preds").Blobs()
	st := testenv.SQLite(t)
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(referenceDir, "models", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	normal, allAnomalies := read("model_1_1"), read("model_1_2") // model_1_2 flags every point of 1/1
	put := func(ctx context.Context, key sensor.Key, data []byte) string {
		t.Helper()
		if err := blobs.Put(ctx, "models", key.ModelName(), data, ""); err != nil {
			t.Fatal(err)
		}
		_, etag, err := blobs.Get(ctx, "models", key.ModelName())
		if err != nil {
			t.Fatal(err)
		}
		return etag
	}
	var rs []sensor.StoredReading
	for i, v := range []float64{12.46, 11.25, 12.31, 13.24} {
		for _, k := range []sensor.Key{k11, k12} {
			rs = append(rs, sensor.StoredReading{Reading: sensor.Reading{TS: t0.Add(time.Duration(5*i+1) * time.Second), Key: k, Value: v}, Source: "h/0/" + k.String(), Sequence: int64(i)})
		}
	}
	if _, err := st.InsertReadings(ctx, rs); err != nil {
		t.Fatal(err)
	}
	pts := &replacingPoints{Store: st}
	f := New(Config{}, blobs, pts, blobs, st)
	score := func(run string, keys ...sensor.Key) {
		t.Helper()
		job := sensor.Job{Run: run, Window: window}
		for _, k := range keys {
			job.Sensors = append(job.Sensors, sensor.JobEntry{Key: k, Model: k.ModelName()})
		}
		if _, err := f.Run(ctx, azfunc.QueueMessage{ID: "m", DequeueCount: 1, Body: mustJSON(t, job)}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(run string, key sensor.Key, etag string, anomalies int) {
		t.Helper()
		outs, err := st.Outcomes(ctx, run)
		if err != nil {
			t.Fatal(err)
		}
		var o sensor.Outcome
		for _, x := range outs {
			if x.Key == key {
				o = x
			}
		}
		if o.Status != sensor.StatusDone || o.ModelETag != etag || o.Anomalies != anomalies {
			t.Errorf("run %s sensor %s: outcome %q, model ETag %q, %d anomalies; want done, %q, %d", run, key, o.Status, o.ModelETag, o.Anomalies, etag, anomalies)
		}
		md, err := blobs.Metadata(ctx, "preds", BlobName(run, key))
		if err != nil {
			t.Fatal(err)
		}
		if md["model_etag"] != etag {
			t.Errorf("run %s sensor %s: predictions metadata %v, want model_etag %q", run, key, md, etag)
		}
	}

	// Two runs, the model replaced between them.
	v1 := put(ctx, k11, normal)
	score("run-a", k11)
	check("run-a", k11, v1, 0)
	v2 := put(ctx, k11, allAnomalies)
	if v2 == v1 {
		t.Fatalf("replacing the blob kept its ETag %s", v1)
	}
	score("run-b", k11)
	check("run-b", k11, v2, 4)

	// One message of two sensors; 1/2's model is replaced while 1/1 is scored.
	// The sensors of a message are scored concurrently, so 1/2 may have got
	// either version: it must record the one it used. The next run uses the
	// replacement.
	w1 := put(ctx, k12, allAnomalies)
	score("run-c", k12) // cached now
	check("run-c", k12, w1, 4)
	var w2 string
	pts.at, pts.replace = k11, func(ctx context.Context) { w2 = put(ctx, k12, normal) }
	score("run-d", k11, k12)
	check("run-d", k11, v2, 4)
	if w2 == "" || w2 == w1 {
		t.Errorf("the replacement during the run gave ETag %q (was %q)", w2, w1)
	}
	outs, err := st.Outcomes(ctx, "run-d")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outs {
		if o.Key == k12 && o.ModelETag == w1 {
			check("run-d", k12, w1, 4)
		} else if o.Key == k12 {
			check("run-d", k12, w2, 0)
		}
	}
	pts.at = sensor.Key{}
	score("run-e", k12)
	check("run-e", k12, w2, 0)
}

func mustJSON(t *testing.T, job sensor.Job) []byte {
	t.Helper()
	b, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
