package scoresensor

import (
	"encoding/json"
	"errors"
	"flag"
	"log/slog"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/golden"
	"github.com/batchscore/batchscore/internal/sensor"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var (
	t0     = time.Date(2018, 8, 28, 23, 0, 0, 0, time.UTC)
	window = sensor.Window{Start: t0, End: t0.Add(time.Hour)}
	runID  = window.RunID()
	k11    = sensor.Key{Device: "1", Sensor: "1"}
	k12    = sensor.Key{Device: "1", Sensor: "2"}
)

func jobBody(t *testing.T, keys ...sensor.Key) []byte {
	t.Helper()
	job := sensor.Job{Run: runID, Window: window}
	for _, k := range keys {
		job.Sensors = append(job.Sensors, sensor.JobEntry{Key: k, Model: k.ModelName()})
	}
	b, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// goldenPoints exercise the number formats: exact zero decision, negative
// values, large and tiny magnitudes, milliseconds in TS; one point lies
// outside the window.
var goldenPoints = []sensor.Point{
	{End: t0.Add(-5 * time.Second), Value: 99, Count: 1}, // before the window: not read
	{End: t0.Add(5 * time.Second), Value: 10.16, Count: 1},
	{End: t0.Add(10 * time.Second), Value: 10, Count: 2},
	{End: t0.Add(15 * time.Second), Value: 9.999999999999998, Count: 1},
	{End: t0.Add(20*time.Second + 125*time.Millisecond), Value: -3.25, Count: 3},
	{End: t0.Add(25 * time.Second), Value: 1e21, Count: 1},
	{End: t0.Add(30 * time.Second), Value: 1.0000001e-7, Count: 1},
	{End: t0.Add(time.Hour), Value: 12.5, Count: 1}, // the window end is included
}

type fixture struct {
	f        *Function
	models   *memModels
	points   *memPoints
	blobs    *memBlobs
	outcomes *memOutcomes
}

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	fx := &fixture{models: &memModels{}, points: &memPoints{pts: map[sensor.Key][]sensor.Point{}}, blobs: &memBlobs{}, outcomes: &memOutcomes{}}
	fx.models.Set(k11.ModelName(), linearModel(t, -10))
	fx.models.Set(k12.ModelName(), linearModel(t, -10))
	fx.points.pts[k11] = goldenPoints
	fx.f = New(cfg, fx.models, fx.points, fx.blobs, fx.outcomes)
	return fx
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name), []byte(got), *update)
}

var ignoreDuration = cmpopts.IgnoreFields(sensor.Outcome{}, "Duration")

func TestRunGolden(t *testing.T) {
	fx := newFixture(t, Config{})
	res, err := fx.f.Run(t.Context(), azfunc.QueueMessage{ID: "m1", DequeueCount: 1, Body: jobBody(t, k11, k12)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Result{Run: runID, Sensors: 2, Done: 1, Empty: 1, Rows: 7, Anomalies: 4}, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	checkGolden(t, "preds_1_1.csv", fx.blobs.blobs["preds/"+BlobName(runID, k11)])
	checkGolden(t, "preds_1_2_empty.csv", fx.blobs.blobs["preds/"+BlobName(runID, k12)])
	if len(fx.blobs.blobs) != 2 {
		t.Errorf("blobs %v", fx.blobs.blobs)
	}
	want := map[string]sensor.Outcome{
		runID + " 1/1": {Run: runID, Key: k11, Status: sensor.StatusDone, Rows: 7, Anomalies: 4, Attempts: 1, Blob: "20180828T230000Z-20180829T000000Z/preds_1_1.csv", ModelETag: `"0x1"`},
		runID + " 1/2": {Run: runID, Key: k12, Status: sensor.StatusEmpty, Attempts: 1, Blob: "20180828T230000Z-20180829T000000Z/preds_1_2.csv", ModelETag: `"0x2"`},
	}
	if diff := cmp.Diff(want, fx.outcomes.last, ignoreDuration); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	wantMeta := map[string]map[string]string{
		"preds/" + BlobName(runID, k11): {MetadataModelETag: `"0x1"`},
		"preds/" + BlobName(runID, k12): {MetadataModelETag: `"0x2"`},
	}
	if diff := cmp.Diff(wantMeta, fx.blobs.metadata); diff != "" {
		t.Errorf("predictions metadata (-want +got):\n%s", diff)
	}

	// Another message of the same job (a duplicated timer run) rewrites the
	// same bytes and counts a second attempt.
	before := fx.blobs.blobs["preds/"+BlobName(runID, k11)]
	if _, err := fx.f.Run(t.Context(), azfunc.QueueMessage{ID: "m2", DequeueCount: 1, Body: jobBody(t, k11, k12)}); err != nil {
		t.Fatal(err)
	}
	if got := fx.blobs.blobs["preds/"+BlobName(runID, k11)]; got != before {
		t.Error("redelivery wrote different bytes")
	}
	if got := fx.outcomes.last[runID+" 1/1"].Attempts; got != 2 {
		t.Errorf("attempts after redelivery = %d, want 2", got)
	}
}

func TestDecodeJobErrors(t *testing.T) {
	valid := `{"run":"r","window":{"start":"2018-08-28T23:00:00Z","end":"2018-08-29T00:00:00Z"},"sensors":[{"device":"1","sensor":"1","model":"model_1_1"}]}`
	if _, err := DecodeJob([]byte(valid)); err != nil {
		t.Fatalf("valid job: %v", err)
	}
	for name, body := range map[string]string{
		"empty":                  ``,
		"not json":               `hello`,
		"array":                  `[1]`,
		"trailing":               valid + `{}`,
		"no run":                 strings.Replace(valid, `"run":"r"`, `"run":""`, 1),
		"no window":              `{"run":"r","sensors":[{"device":"1","sensor":"1","model":"m"}]}`,
		"reversed window":        strings.Replace(valid, `"end":"2018-08-29T00:00:00Z"`, `"end":"2018-08-28T22:00:00Z"`, 1),
		"no sensors":             strings.Replace(valid, `[{"device":"1","sensor":"1","model":"model_1_1"}]`, `[]`, 1),
		"bad key":                strings.Replace(valid, `"sensor":"1"`, `"sensor":"a_b"`, 1),
		"no model":               strings.Replace(valid, `"model":"model_1_1"`, `"model":""`, 1),
		"duplicate":              strings.Replace(valid, `}]}`, `},{"device":"1","sensor":"1","model":"x"}]}`, 1),
		"wake with sensors":      strings.Replace(valid, `"run":"r"`, `"run":"r","wake":true`, 1),
		"wake without run":       `{"run":"","wake":true}`,
		"wake false, no sensors": `{"run":"r","wake":false,"window":{"start":"2018-08-28T23:00:00Z","end":"2018-08-29T00:00:00Z"},"sensors":[]}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeJob([]byte(body)); err == nil {
				t.Error("err = nil")
			}
			fx := newFixture(t, Config{})
			_, err := fx.f.Run(t.Context(), azfunc.QueueMessage{ID: "m", DequeueCount: 1, Body: []byte(body)})
			if !azfunc.IsPermanent(err) {
				t.Errorf("Run err = %v, want permanent", err)
			}
			if len(fx.outcomes.log) != 0 || len(fx.blobs.blobs) != 0 {
				t.Errorf("invalid job wrote outcomes %v / blobs %d", fx.outcomes.log, len(fx.blobs.blobs))
			}
		})
	}
}

// TestRunWakeMessage: fan-out's wake-up message is answered without an
// error, a Blob or SQL call or an outcome.
func TestRunWakeMessage(t *testing.T) {
	for name, body := range map[string]string{
		"as fan-out writes it": sensor.WakeMessage(runID),
		"with a window":        `{"run":"r","wake":true,"window":{"start":"2018-08-28T23:00:00Z","end":"2018-08-29T00:00:00Z"},"sensors":[]}`,
	} {
		t.Run(name, func(t *testing.T) {
			fx := newFixture(t, Config{})
			// Every store fails: a call to any of them would fail the invocation.
			fx.models.err, fx.points.err, fx.blobs.err = errors.New("models called"), errors.New("points called"), errors.New("blobs called")
			fx.outcomes.startErr = errors.New("outcomes called")
			res, err := fx.f.Run(t.Context(), azfunc.QueueMessage{ID: "m", DequeueCount: 1, Body: []byte(body)})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if !res.Wake || res.Sensors != 0 || res.Done+res.Empty+res.Failed+res.Skipped != 0 {
				t.Errorf("result %+v, want a wake-up with nothing scored", res)
			}
			if len(fx.outcomes.log) != 0 || len(fx.blobs.blobs) != 0 || len(fx.models.calls) != 0 {
				t.Errorf("wake-up message read or wrote: outcomes %v, blobs %d, model reads %v",
					fx.outcomes.log, len(fx.blobs.blobs), fx.models.calls)
			}
		})
	}
}

func TestRunFailures(t *testing.T) {
	k13 := sensor.Key{Device: "1", Sensor: "3"}
	for _, tc := range []struct {
		name      string
		setup     func(t *testing.T, fx *fixture)
		keys      []sensor.Key
		dequeue   int64
		permanent bool
		status    string // of the failing sensor, 1/3 unless keys say otherwise
		errPart   string
	}{
		{"missing model", func(*testing.T, *fixture) {}, []sensor.Key{k13}, 1, true, sensor.StatusFailed, "not found"},
		{"missing model, last attempt", func(*testing.T, *fixture) {}, []sensor.Key{k13}, 5, true, sensor.StatusPoisoned, "not found"},
		{"unloadable model", func(t *testing.T, fx *fixture) { fx.models.Set(k13.ModelName(), []byte("garbage")) }, []sensor.Key{k13}, 2, true, sensor.StatusFailed, "load model"},
		{"two-feature model", func(t *testing.T, fx *fixture) {
			fx.models.Set(k13.ModelName(), []byte(`{"format":"batchscore-ocsvm","version":1,"kernel":"linear","gamma":0,"coef0":0,"degree":3,"support_vectors":[[1,2]],"dual_coef":[1],"intercept":0}`))
		}, []sensor.Key{k13}, 1, true, sensor.StatusFailed, "takes 2 features"},
		{"points fail", func(t *testing.T, fx *fixture) {
			fx.models.Set(k13.ModelName(), linearModel(t, 0))
			fx.points.err = errors.New("db down")
		}, []sensor.Key{k13}, 1, false, sensor.StatusFailed, "db down"},
		{"points fail, past max dequeue", func(t *testing.T, fx *fixture) {
			fx.models.Set(k13.ModelName(), linearModel(t, 0))
			fx.points.err = errors.New("db down")
		}, []sensor.Key{k13}, 7, false, sensor.StatusPoisoned, "db down"},
		{"blob write fails", func(t *testing.T, fx *fixture) {
			fx.models.Set(k13.ModelName(), linearModel(t, 0))
			fx.blobs.err = errors.New("storage down")
		}, []sensor.Key{k13}, 1, false, sensor.StatusFailed, "storage down"},
		{"model store fails", func(t *testing.T, fx *fixture) { fx.models.err = errors.New("timeout") }, []sensor.Key{k13}, 1, false, sensor.StatusFailed, "timeout"},
		{"one of three fails", func(*testing.T, *fixture) {}, []sensor.Key{k11, k13, k12}, 1, true, sensor.StatusFailed, "not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t, Config{MaxDequeueCount: 5})
			tc.setup(t, fx)
			res, err := fx.f.Run(t.Context(), azfunc.QueueMessage{ID: "m", DequeueCount: tc.dequeue, Body: jobBody(t, tc.keys...)})
			if err == nil {
				t.Fatal("err = nil")
			}
			if got := azfunc.IsPermanent(err); got != tc.permanent {
				t.Errorf("IsPermanent = %v, want %v (err %v)", got, tc.permanent, err)
			}
			if !strings.Contains(err.Error(), tc.errPart) {
				t.Errorf("err = %v, want it to mention %q", err, tc.errPart)
			}
			if len(tc.keys) > 1 && !strings.Contains(err.Error(), "1 of 3 sensors failed") {
				t.Errorf("err = %v, want it to count the failed sensors", err)
			}
			o := fx.outcomes.last[runID+" 1/3"]
			if o.Status != tc.status || !strings.Contains(o.Error, tc.errPart) || o.Attempts != 1 {
				t.Errorf("outcome %+v, want status %s, attempt 1, error with %q", o, tc.status, tc.errPart)
			}
			if res.Failed != 1 || res.Done+res.Empty != len(tc.keys)-1 {
				t.Errorf("result %+v, want 1 failed and the others scored", res)
			}
		})
	}
	t.Run("start attempt fails", func(t *testing.T) {
		fx := newFixture(t, Config{})
		fx.outcomes.startErr = errors.New("db down")
		_, err := fx.f.Run(t.Context(), azfunc.QueueMessage{ID: "m", DequeueCount: 1, Body: jobBody(t, k11)})
		if err == nil || azfunc.IsPermanent(err) {
			t.Fatalf("err = %v, want a transient error", err)
		}
		if len(fx.blobs.blobs) != 0 {
			t.Error("scored without recording the attempt")
		}
	})
}

func TestAppendCSVRoundTrip(t *testing.T) {
	a, b, three := 0.1, 0.2, 3.0
	pts := []sensor.Point{{End: t0.Add(5 * time.Second), Value: a + b}, {End: t0.Add(10 * time.Second), Value: -1e-300}}
	dec := []float64{1 / three, math.Copysign(0, -1)}
	got, anomalies := AppendCSV(nil, k11, pts, dec)
	want := CSVHeader +
		"2018-08-28 23:00:05.000,1,1,0.30000000000000004,0,0.3333333333333333\n" +
		"2018-08-28 23:00:10.000,1,1,-1e-300,1,-0\n"
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("csv (-want +got):\n%s", diff)
	}
	if anomalies != 1 {
		t.Errorf("anomalies = %d, want 1", anomalies)
	}
}

// Each scored sensor's log line says where its time went, stage by stage.
func TestRunLogsStages(t *testing.T) {
	var buf strings.Builder
	fx := newFixture(t, Config{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	if _, err := fx.f.Run(t.Context(), azfunc.QueueMessage{ID: "m1", DequeueCount: 1, Body: jobBody(t, k11)}); err != nil {
		t.Fatal(err)
	}
	var line struct {
		Msg    string           `json:"msg"`
		Stages map[string]int64 `json:"stages_us"`
	}
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if line.Msg == "scored sensor" {
			break
		}
	}
	if line.Msg != "scored sensor" {
		t.Fatalf("no \"scored sensor\" line in:\n%s", buf.String())
	}
	var keys []string
	for k, v := range line.Stages {
		keys = append(keys, k)
		if v < 0 {
			t.Errorf("stage %s = %d us, want >= 0", k, v)
		}
	}
	want := []string{"attempt", "finish", "model", "points", "score", "write"}
	if diff := cmp.Diff(want, keys, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("stages (-want +got):\n%s", diff)
	}
}
