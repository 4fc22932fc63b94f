package main

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/batchscore/batchscore/internal/azurite"
	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/sqlstore"
	"github.com/batchscore/batchscore/internal/storage"
	"github.com/batchscore/batchscore/internal/svm"
)

// trainReadings is a small fleet: sensors 1/1 and 1/2 with 300 readings 5 s
// apart around different levels (one reading every 50 a spike), and 2/1 with
// only 5 readings (skipped). Readings of 1/1 come in pairs inside a window,
// so its windows average two values.
func trainReadings() []sensor.Reading {
	t0 := time.Date(2018, 8, 28, 23, 0, 5, 0, time.UTC)
	var rs []sensor.Reading
	for i := range 300 {
		ts := t0.Add(time.Duration(i) * 5 * time.Second)
		v := 10 + math.Sin(float64(i)*0.7)
		if i%50 == 7 {
			v += 8
		}
		rs = append(rs,
			sensor.Reading{TS: ts, Key: sensor.Key{Device: "1", Sensor: "1"}, Value: v},
			sensor.Reading{TS: ts.Add(-time.Second), Key: sensor.Key{Device: "1", Sensor: "1"}, Value: v + 0.5},
			sensor.Reading{TS: ts, Key: sensor.Key{Device: "1", Sensor: "2"}, Value: 50 + 5*math.Cos(float64(i)*0.3)})
		if i < 5 {
			rs = append(rs, sensor.Reading{TS: ts, Key: sensor.Key{Device: "2", Sensor: "1"}, Value: float64(i)})
		}
	}
	return rs
}

func writeReadingsCSV(t *testing.T, rs []sensor.Reading) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("TS,Device,Sensor,Value\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "%s,%s,%s,%v\n", r.TS.Format("2006-01-02 15:04:05.000"), r.Key.Device, r.Key.Sensor, r.Value)
	}
	p := filepath.Join(t.TempDir(), "readings.csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkTrained checks the two files of a trained sensor: the JSON model is
// svm.Fit's model of the expected windows, and the libsvm model makes the
// same decisions.
func checkTrained(t *testing.T, jsonData, libData []byte, windows []float64) {
	t.Helper()
	m, err := svm.LoadJSON(bytes.NewReader(jsonData))
	if err != nil {
		t.Fatal(err)
	}
	lib, err := svm.LoadLibSVM(bytes.NewReader(libData))
	if err != nil {
		t.Fatal(err)
	}
	x := make([][]float64, len(windows))
	for i := range windows {
		x[i] = windows[i : i+1]
	}
	want, _, err := svm.Fit(x, svm.FitOptions{TrainParams: svm.TrainParams{Kernel: svm.RBF, Nu: 0.05}, Gamma: "0.01", Scale: true})
	if err != nil {
		t.Fatal(err)
	}
	if m.NSupport() != want.NSupport() {
		t.Errorf("model has %d support vectors, a fit of the expected windows %d", m.NSupport(), want.NSupport())
	}
	for _, v := range append(windows, 0, 30, 100) {
		row := []float64{v}
		a, b, c := m.Decision(row), lib.Decision(row), want.Decision(row)
		if a != c || math.Abs(a-b) > 1e-9*math.Max(1, math.Abs(a)) {
			t.Fatalf("value %v: JSON model %v, libsvm model %v, fit of the expected windows %v", v, a, b, c)
		}
	}
}

// windowsOf averages a sensor's readings per 5-second window, in order.
func windowsOf(rs []sensor.Reading, k sensor.Key) []float64 {
	var out []float64
	var end time.Time
	sum, n := 0.0, 0
	for _, r := range rs {
		if r.Key != k {
			continue
		}
		e := sensor.WindowEnd(r.TS, 5*time.Second)
		if !e.Equal(end) && n > 0 {
			out = append(out, sum/float64(n))
			sum, n = 0, 0
		}
		end = e
		sum += r.Value
		n++
	}
	return append(out, sum/float64(n))
}

func TestTrainCSVToFolder(t *testing.T) {
	rs := trainReadings()
	in, dir := writeReadingsCSV(t, rs), t.TempDir()
	var stdout bytes.Buffer
	if err := runTrain(t.Context(), []string{"-csv", in, "-out", dir, "-nu", "0.05", "-q"}, &stdout, &bytes.Buffer{}); err != nil {
		t.Fatalf("train: %v\n%s", err, &stdout)
	}
	out := stdout.String()
	t.Log("\n" + out)
	for _, want := range []string{"2 models fitted, 1 skipped, 0 failed", "skipped: 5 windows, fewer than -min-rows 10"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	for _, k := range []sensor.Key{{Device: "1", Sensor: "1"}, {Device: "1", Sensor: "2"}} {
		js, err1 := os.ReadFile(filepath.Join(dir, k.ModelName()+".json"))
		lib, err2 := os.ReadFile(filepath.Join(dir, "libsvm", k.ModelName()+".model"))
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		w := windowsOf(rs, k)
		if k.Sensor == "1" && len(w) != 300 {
			t.Fatalf("sensor 1/1 has %d windows, want 300 (pairs averaged)", len(w))
		}
		checkTrained(t, js, lib, w)
	}
	if _, err := os.Stat(filepath.Join(dir, "model_2_1.json")); !os.IsNotExist(err) {
		t.Errorf("a model was written for the skipped sensor 2/1 (%v)", err)
	}
}

// TestTrainSQLToContainer reads the windows from a SQLite store (the ingest
// function's) and writes to a blob container on Azurite.
func TestTrainSQLToContainer(t *testing.T) {
	rs := trainReadings()
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "b.db")
	st, err := sqlstore.Open(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	stored := make([]sensor.StoredReading, len(rs))
	for i, r := range rs {
		stored[i] = sensor.StoredReading{Reading: r, Source: "test/0", Sequence: int64(i)}
	}
	if _, err := st.InsertReadings(t.Context(), stored); err != nil {
		t.Fatal(err)
	}
	st.Close()

	srv := azurite.ForTest(t)
	t.Setenv("TRAIN_TEST_STORAGE", srv.ConnectionString())
	var stdout bytes.Buffer
	args := []string{"-sql", dbURL, "-from", "2018-08-28T23:00:00Z", "-to", "2018-08-29T00:00:00Z",
		"-container", "models", "-connection", "TRAIN_TEST_STORAGE", "-nu", "0.05", "-q"}
	if err := runTrain(t.Context(), args, &stdout, &bytes.Buffer{}); err != nil {
		t.Fatalf("train: %v\n%s", err, &stdout)
	}
	if !strings.Contains(stdout.String(), "2 models fitted, 1 skipped, 0 failed") {
		t.Errorf("summary:\n%s", &stdout)
	}
	acct, err := storage.New(storage.Config{ConnectionString: srv.ConnectionString()})
	if err != nil {
		t.Fatal(err)
	}
	k := sensor.Key{Device: "1", Sensor: "1"}
	js, _, err1 := acct.Blobs().Get(t.Context(), "models", k.ModelName()+".json")
	lib, _, err2 := acct.Blobs().Get(t.Context(), "models", "libsvm/"+k.ModelName()+".model")
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	checkTrained(t, js, lib, windowsOf(rs, k))
}

func TestTrainUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-csv", "x.csv"}, "exactly one of -out and -container"},
		{[]string{"-csv", "x.csv", "-out", "d", "-container", "c"}, "exactly one of -out and -container"},
		{[]string{"-out", "d", "-sql", ""}, "give -csv, or -sql"},
		{[]string{"-out", "d", "-sql", "sqlite::memory:"}, "give both -from and -to"},
		{[]string{"-out", "d", "-sql", "sqlite::memory:", "-from", "2018-08-29T00:00:00Z", "-to", "2018-08-28T00:00:00Z"}, "not after start"},
		{[]string{"-csv", "x.csv", "-out", "d", "-nu", "1.5"}, "-nu 1.5 must be in (0, 1]"},
		{[]string{"-csv", "x.csv", "-out", "d", "-gamma", "big"}, "-gamma"},
		{[]string{"-csv", "x.csv", "-out", "d", "-kernel", "cubic"}, "unknown kernel"},
		{[]string{"-csv", "x.csv", "-out", "d", "-min-rows", "1"}, "-min-rows 1"},
	} {
		err := runTrain(t.Context(), tt.args, &bytes.Buffer{}, &bytes.Buffer{})
		var ue usageError
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.As(err, &ue) {
			t.Errorf("runTrain(%q) = %v, want a usage error containing %q", tt.args, err, tt.want)
		}
	}
}
