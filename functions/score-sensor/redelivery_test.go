package scoresensor

import (
	"testing"

	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/testenv"
)

// TestRedeliverySkipsFinishedSensors delivers a message of two sensors whose
// first delivery scored one and failed the other, then delivers it again: the
// redelivery scores only the failed sensor and leaves the finished one (its
// outcome, attempts and predictions blob) alone. A first delivery of the same
// job (a duplicated timer run or a backfill of the same window) still scores
// every sensor.
func TestRedeliverySkipsFinishedSensors(t *testing.T) {
	st := testenv.SQLite(t)
	fx := newFixture(t, Config{})
	k13 := sensor.Key{Device: "1", Sensor: "3"}
	f := New(Config{}, fx.models, fx.points, fx.blobs, st)
	body := jobBody(t, k11, k12, k13) // model_1_3 is missing at first
	attempts := func() map[sensor.Key]int {
		outs, err := st.Outcomes(t.Context(), runID)
		if err != nil {
			t.Fatal(err)
		}
		m := map[sensor.Key]int{}
		for _, o := range outs {
			m[o.Key] = o.Attempts
		}
		return m
	}

	if _, err := f.Run(t.Context(), azfunc.QueueMessage{ID: "m", DequeueCount: 1, Body: body}); err == nil {
		t.Fatal("first delivery: err = nil, want model_1_3 missing")
	}
	first := fx.blobs.blobs["preds/"+BlobName(runID, k11)]
	puts := fx.blobs.puts

	fx.models.Set(k13.ModelName(), linearModel(t, -10))
	fx.blobs.blobs["preds/"+BlobName(runID, k11)] = "overwritten by someone else" // a rewrite would show
	res, err := f.Run(t.Context(), azfunc.QueueMessage{ID: "m", DequeueCount: 2, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped != 2 || res.Empty != 1 || res.Done != 0 {
		t.Errorf("redelivery result %+v, want 2 skipped (1/1 done, 1/2 empty) and 1/3 scored empty", res)
	}
	if got := fx.blobs.puts - puts; got != 1 {
		t.Errorf("redelivery wrote %d predictions blobs, want 1 (1/3)", got)
	}
	if got := fx.blobs.blobs["preds/"+BlobName(runID, k11)]; got != "overwritten by someone else" {
		t.Errorf("redelivery rewrote the finished sensor's blob")
	}
	if a := attempts(); a[k11] != 1 || a[k12] != 1 || a[k13] != 2 {
		t.Errorf("attempts after the redelivery %v, want 1/1 and 1/2 once, 1/3 twice", a)
	}

	// A new message of the same job re-scores everything, byte for byte.
	fx.blobs.blobs["preds/"+BlobName(runID, k11)] = first
	if _, err := f.Run(t.Context(), azfunc.QueueMessage{ID: "m2", DequeueCount: 1, Body: body}); err != nil {
		t.Fatal(err)
	}
	if a := attempts(); a[k11] != 2 || a[k12] != 2 || a[k13] != 3 {
		t.Errorf("attempts after a new delivery %v, want every sensor scored again", a)
	}
	if got := fx.blobs.blobs["preds/"+BlobName(runID, k11)]; got != first {
		t.Error("re-scoring wrote different bytes")
	}
}
