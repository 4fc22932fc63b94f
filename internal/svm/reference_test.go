package svm

import (
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// readCSV reads a whole CSV file, header included.
func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return recs
}

func parseFloat(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestReferenceModels scores every reading of the reference data with the
// reference's own 15 scikit-learn 0.19 pickles and compares each decision with
// scikit-learn 1.2.1's, and each label with the reference's prediction.
func TestReferenceModels(t *testing.T) {
	dir := filepath.Join("testdata", "reference")
	type key struct{ ts, dev, sen string }
	values := make(map[key]float64)
	for i, rec := range readCSV(t, filepath.Join(dir, "sensor_data.csv")) {
		if i == 0 {
			continue
		}
		values[key{rec[0], rec[1], rec[2]}] = parseFloat(t, rec[3])
	}
	expected := readCSV(t, filepath.Join(dir, "expected_predictions.csv"))[1:]
	if len(expected) != 17768 || len(values) != 17768 {
		t.Fatalf("got %d expected rows and %d readings, want 17768 of each", len(expected), len(values))
	}

	models := make(map[string]*Model)
	for _, rec := range expected {
		name := "model_" + rec[1] + "_" + rec[2]
		if models[name] != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, "models", name))
		if err != nil {
			t.Fatal(err)
		}
		m, err := LoadPickle(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		models[name] = m
	}
	if len(models) != 15 {
		t.Fatalf("%d models, want 15", len(models))
	}

	var maxErr, maxRel float64
	anomalies, mismatches := 0, 0
	for _, rec := range expected {
		x, ok := values[key{rec[0], rec[1], rec[2]}]
		if !ok {
			t.Fatalf("no reading for %v", rec[:3])
		}
		if got := parseFloat(t, rec[3]); got != x {
			t.Fatalf("%v: expected file has Val %v, data has %v", rec[:3], got, x)
		}
		want := parseFloat(t, rec[4])
		wantAnomaly := rec[5] == "1"
		m := models["model_"+rec[1]+"_"+rec[2]]

		d := m.Decision([]float64{x})
		var batch [1]float64
		m.DecisionBatch(batch[:], []float64{x})
		if math.Float64bits(batch[0]) != math.Float64bits(d) {
			t.Errorf("%v: DecisionBatch %v != Decision %v", rec[:3], batch[0], d)
		}
		e := math.Abs(d - want)
		maxErr = math.Max(maxErr, e)
		maxRel = math.Max(maxRel, e/math.Max(1, math.Abs(want)))
		if e > 1e-12*math.Max(1, math.Abs(want)) {
			mismatches++
			if mismatches <= 10 {
				t.Errorf("%v x=%v: decision %.17g, want %.17g (error %.3g)", rec[:3], x, d, want, e)
			}
		}
		if IsAnomaly(d) != wantAnomaly {
			t.Errorf("%v x=%v: anomaly %v, want %v (decision %.17g)", rec[:3], x, IsAnomaly(d), wantAnomaly, d)
		}
		if wantAnomaly {
			anomalies++
		}
	}
	if anomalies != 6757 {
		t.Errorf("%d anomalies, want 6757", anomalies)
	}
	t.Logf("17768 rows, 15 models: max |decision-expected| = %.3g, max relative (to max(1,|expected|)) = %.3g; %d anomalies",
		maxErr, maxRel, anomalies)
	if mismatches > 0 {
		t.Errorf("%d decisions outside 1e-12", mismatches)
	}
}

// ExampleLoadPickle loads one of the reference models and scores a reading.
func ExampleLoadPickle() {
	data, err := os.ReadFile("testdata/reference/models/model_1_1")
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := LoadPickle(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	d := m.Decision([]float64{10.16})
	fmt.Printf("%d feature(s), %d support vectors, kernel %v\n", m.NFeatures(), m.NSupport(), m.Kernel())
	fmt.Printf("decision %.6e, anomaly %v\n", d, IsAnomaly(d))
	// Output:
	// 1 feature(s), 2 support vectors, kernel rbf
	// decision 8.888391e-05, anomaly false
}
