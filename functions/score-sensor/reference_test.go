package scoresensor

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/sensor"
)

// referenceDir holds the reference implementation's models and data (MIT, see
// the LICENSE there), kept once in the repository by internal/svm.
const referenceDir = "../../internal/svm/testdata/reference"

func readCSV(t *testing.T, name string) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join(referenceDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs[1:]
}

// TestReferenceModels scores the reference's 15 pickled models over its data
// (one message per sensor, as the reference ran them) and checks every
// predictions row against scikit-learn's expected_predictions.csv: same TS,
// Val and label, decision within 1e-12*max(1,|expected|).
func TestReferenceModels(t *testing.T) {
	layout := "2006-01-02 15:04:05.000"
	models := &memModels{}
	points := &memPoints{pts: map[sensor.Key][]sensor.Point{}}
	for _, r := range readCSV(t, "sensor_data.csv") {
		ts, err := time.Parse(layout, r[0])
		if err != nil {
			t.Fatal(err)
		}
		v, err := strconv.ParseFloat(r[3], 64)
		if err != nil {
			t.Fatal(err)
		}
		k := sensor.Key{Device: r[1], Sensor: r[2]}
		points.pts[k] = append(points.pts[k], sensor.Point{End: ts, Value: v, Count: 1})
	}
	for k := range points.pts {
		b, err := os.ReadFile(filepath.Join(referenceDir, "models", k.ModelName()))
		if err != nil {
			t.Fatal(err)
		}
		models.Set(k.ModelName(), b)
	}
	blobs, outcomes := &memBlobs{}, &memOutcomes{}
	f := New(Config{}, models, points, blobs, outcomes)
	w := sensor.Window{Start: time.Date(2018, 8, 28, 23, 0, 0, 0, time.UTC), End: time.Date(2018, 8, 29, 4, 0, 0, 0, time.UTC)}
	total := Result{}
	for k := range points.pts {
		job := sensor.Job{Run: w.RunID(), Window: w, Sensors: []sensor.JobEntry{{Key: k, Model: k.ModelName()}}}
		body, err := json.Marshal(job)
		if err != nil {
			t.Fatal(err)
		}
		res, err := f.Run(t.Context(), azfunc.QueueMessage{ID: k.String(), DequeueCount: 1, Body: body})
		if err != nil {
			t.Fatal(err)
		}
		total.Rows += res.Rows
		total.Anomalies += res.Anomalies
	}
	if total.Rows != 17768 || total.Anomalies != 6757 {
		t.Errorf("scored %d rows with %d anomalies, want 17768 and 6757", total.Rows, total.Anomalies)
	}

	// Index our output by (TS, device, sensor).
	got := map[string][]string{}
	for name, data := range blobs.blobs {
		lines := strings.Split(strings.TrimSuffix(data, "\n"), "\n")
		if lines[0]+"\n" != CSVHeader {
			t.Fatalf("%s header %q", name, lines[0])
		}
		for _, l := range lines[1:] {
			c := strings.Split(l, ",")
			got[c[0]+","+c[1]+","+c[2]] = c
		}
	}
	expected := readCSV(t, "expected_predictions.csv") // TS,Device,Sensor,Val,decision,Prediction
	if len(got) != len(expected) {
		t.Fatalf("%d rows written, want %d", len(got), len(expected))
	}
	worst := 0.0
	for _, e := range expected {
		c, ok := got[e[0]+","+e[1]+","+e[2]]
		if !ok {
			t.Fatalf("no row for %v", e[:3])
		}
		wantVal, _ := strconv.ParseFloat(e[3], 64)
		gotVal, _ := strconv.ParseFloat(c[3], 64)
		wantDec, _ := strconv.ParseFloat(e[4], 64)
		gotDec, err := strconv.ParseFloat(c[5], 64)
		if err != nil || gotVal != wantVal || c[4] != e[5] {
			t.Fatalf("row %v: got %v", e, c)
		}
		diff := math.Abs(gotDec-wantDec) / math.Max(1, math.Abs(wantDec))
		worst = math.Max(worst, diff)
		if diff > 1e-12 {
			t.Errorf("row %v: decision %v, want %v", e[:3], gotDec, wantDec)
		}
	}
	t.Logf("15 reference models, 17,768 rows: labels identical, worst decision difference %.3g", worst)
}
