package train

import (
	"bytes"
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/svm"
	"github.com/batchscore/batchscore/internal/testenv"
)

// TestRun fits against the real stores (SQLite, Azurite): sensor 1/1 gets a
// new model that replaces its pickle (kept under previous/), sensor 1/2,
// whose newest windows moved to another level, gets none (rejected), and
// sensor 2/1 has too few windows. A second invocation in the same hour
// changes nothing.
func TestRun(t *testing.T) {
	ctx := t.Context()
	st := testenv.SQLite(t)
	acct := testenv.Storage(t, "models")
	blobs := acct.Blobs()
	now := time.Date(2018, 8, 29, 12, 20, 0, 0, time.UTC)
	end := now.Truncate(time.Hour)
	var rs []sensor.StoredReading
	add := func(k sensor.Key, i int, v float64) {
		rs = append(rs, sensor.StoredReading{Reading: sensor.Reading{TS: end.Add(-time.Duration(i) * 5 * time.Second), Key: k, Value: v},
			Source: "t/0", Sequence: int64(len(rs))})
	}
	k11, k12, k21 := sensor.Key{Device: "1", Sensor: "1"}, sensor.Key{Device: "1", Sensor: "2"}, sensor.Key{Device: "2", Sensor: "1"}
	for i := range 1000 {
		add(k11, i, 20+math.Sin(float64(i)*0.37))
		v := 50 + math.Cos(float64(i)*0.21)
		if i < 200 { // the newest 20 %: far off
			v += 30
		}
		add(k12, i, v)
		if i < 50 {
			add(k21, i, 1)
		}
	}
	if _, err := st.InsertReadings(ctx, rs); err != nil {
		t.Fatal(err)
	}
	pickle := []byte("an older model in another format")
	oldJSON := []byte(`{"not":"read"}`)
	for name, data := range map[string][]byte{"model_1_1": pickle, "model_1_2.json": oldJSON, "model_1_10.json": oldJSON} {
		if err := blobs.Put(ctx, "models", name, data, "application/octet-stream"); err != nil {
			t.Fatal(err)
		}
	}

	f := New(Config{}, st, blobs, st)
	res, err := f.Run(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sensors != 3 || res.Written != 1 || res.Rejected != 1 || res.Empty != 1 {
		t.Fatalf("result %+v, want 3 sensors: 1 written, 1 rejected, 1 empty", res)
	}
	sum, err := st.RunSummary(ctx, res.Run)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Done != 1 || sum.Failed != 1 || sum.Empty != 1 || sum.Total != 3 {
		t.Errorf("run-status summary %+v", sum)
	}
	outs, err := st.Outcomes(ctx, res.Run)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outs {
		t.Logf("%s %s rows %d anomalies %d %s", o.Key, o.Status, o.Rows, o.Anomalies, o.Error)
	}

	get := func(name string) []byte {
		t.Helper()
		b, _, err := blobs.Get(ctx, "models", name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return b
	}
	// The new model takes the name timer-fanout uses for the sensor, so a job
	// queued before the run (naming model_1_1) scores the new version and
	// never meets a deleted blob.
	m, err := svm.LoadJSON(bytes.NewReader(get("model_1_1")))
	if err != nil {
		t.Fatal(err)
	}
	if d := m.Decision([]float64{20.1}); svm.IsAnomaly(d) {
		t.Errorf("new model flags a normal value (decision %v)", d)
	}
	if d := m.Decision([]float64{35}); !svm.IsAnomaly(d) {
		t.Errorf("new model does not flag a spike (decision %v)", d)
	}
	if !bytes.Equal(get("previous/model_1_1"), pickle) {
		t.Error("previous/model_1_1 is not the replaced model")
	}
	if _, _, err := blobs.Get(ctx, "models", "model_1_1.json"); err == nil {
		t.Error("a second model name for sensor 1/1 was written")
	}
	if !bytes.Equal(get("model_1_2.json"), oldJSON) || !bytes.Equal(get("model_1_10.json"), oldJSON) {
		t.Error("a rejected or unrelated model was changed")
	}

	// A retry in the same hour: same run, nothing rewritten.
	again, err := f.Run(ctx, now.Add(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if again.Run != res.Run || again.Written != 1 {
		t.Errorf("retry result %+v, want run %s with 1 written", again, res.Run)
	}
	if !bytes.Equal(get("previous/model_1_1"), pickle) {
		t.Error("the retry overwrote previous/model_1_1 with the model of its own run")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{Days: -1}, {Nu: 2}, {Gamma: "wide"}, {Tolerance: 1}} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("defaults refused: %v", err)
	}
}

// failingWrite is a ModelStore whose model writes fail, as an invocation that
// ended after keeping the current model under previous/ and before writing
// the new one.
type failingWrite struct{ ModelStore }

func (failingWrite) PutWithMetadata(context.Context, string, string, []byte, string, map[string]string) error {
	return errors.New("the invocation ended")
}

// TestRetryAfterInterruptedReplace: the first attempt kept the scored pickle
// model_1_1 under previous/ but did not write the new model. The retry of the
// same run writes it under model_1_1 and previous/model_1_1 still holds the
// model it replaced; a third attempt of the run changes nothing.
func TestRetryAfterInterruptedReplace(t *testing.T) {
	ctx := t.Context()
	st := testenv.SQLite(t)
	blobs := testenv.Storage(t, "models").Blobs()
	now := time.Date(2018, 8, 29, 12, 20, 0, 0, time.UTC)
	k := sensor.Key{Device: "1", Sensor: "1"}
	var rs []sensor.StoredReading
	for i := range 1000 {
		rs = append(rs, sensor.StoredReading{Reading: sensor.Reading{TS: now.Truncate(time.Hour).Add(-time.Duration(i) * 5 * time.Second),
			Key: k, Value: 20 + math.Sin(float64(i)*0.37)}, Source: "t/0", Sequence: int64(i)})
	}
	if _, err := st.InsertReadings(ctx, rs); err != nil {
		t.Fatal(err)
	}
	pickle, oldJSON := []byte("the scored pickle"), []byte(`{"an":"older json model"}`)
	for name, data := range map[string][]byte{"model_1_1": pickle, "model_1_1.json": oldJSON} {
		if err := blobs.Put(ctx, "models", name, data, "application/octet-stream"); err != nil {
			t.Fatal(err)
		}
	}
	if res, _ := New(Config{}, st, failingWrite{blobs}, st).Run(ctx, now); res.Written != 0 {
		t.Fatalf("interrupted attempt %+v, want nothing written", res)
	}
	for attempt := 2; attempt <= 3; attempt++ {
		res, err := New(Config{}, st, blobs, st).Run(ctx, now.Add(time.Duration(attempt)*time.Minute))
		if err != nil || res.Written != 1 {
			t.Fatalf("attempt %d: %+v, %v: want 1 written", attempt, res, err)
		}
		if b, _, err := blobs.Get(ctx, "models", "previous/model_1_1"); err != nil || !bytes.Equal(b, pickle) {
			t.Errorf("attempt %d: previous/model_1_1 = %q, %v; want the replaced model %q", attempt, b, err, pickle)
		}
		b, _, err := blobs.Get(ctx, "models", "model_1_1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svm.LoadJSON(bytes.NewReader(b)); err != nil {
			t.Errorf("attempt %d: model_1_1 is not the new model: %v", attempt, err)
		}
		if b, _, err := blobs.Get(ctx, "models", "model_1_1.json"); err != nil || !bytes.Equal(b, oldJSON) {
			t.Errorf("attempt %d: model_1_1.json = %q, %v; want it untouched (timer-fanout never picks it)", attempt, b, err)
		}
	}
}

// cancelOnPoints is a WindowSource whose invocation ends (the handler's
// INVOCATION_TIMEOUT, a shutdown) while the first sensor's windows are read.
type cancelOnPoints struct {
	WindowSource
	cancel context.CancelFunc
}

func (c cancelOnPoints) Points(ctx context.Context, k sensor.Key, w sensor.Window, width time.Duration) ([]sensor.Point, error) {
	c.cancel()
	return c.WindowSource.Points(ctx, k, w, width)
}

// TestRunStopsWhenCancelled: an invocation that ends records the outcome of
// the sensor it was on and stops, saying how many sensors were left, instead
// of trying each one with the ended context and joining one "context
// canceled" per sensor (with no outcome recorded).
func TestRunStopsWhenCancelled(t *testing.T) {
	st := testenv.SQLite(t)
	blobs := testenv.Storage(t, "models").Blobs()
	now := time.Date(2018, 8, 29, 12, 20, 0, 0, time.UTC)
	var rs []sensor.StoredReading
	for s := range 3 {
		rs = append(rs, sensor.StoredReading{Reading: sensor.Reading{TS: now.Add(-time.Hour),
			Key: sensor.Key{Device: "1", Sensor: strconv.Itoa(s + 1)}, Value: 1}, Source: "t/0", Sequence: int64(s)})
	}
	if _, err := st.InsertReadings(t.Context(), rs); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	res, err := New(Config{}, cancelOnPoints{st, cancel}, blobs, st).Run(ctx, now)
	if err == nil || !strings.Contains(err.Error(), "2 of 3 sensors not trained") {
		t.Errorf("err %v, want one naming the 2 of 3 sensors not trained", err)
	}
	outs, err := st.Outcomes(t.Context(), res.Run)
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 1 || outs[0].Status != sensor.StatusFailed {
		t.Errorf("outcomes %+v, want the first sensor's, failed", outs)
	}
}
