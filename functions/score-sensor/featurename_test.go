package scoresensor

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/svm"
)

func TestCheckFeatureName(t *testing.T) {
	e := sensor.JobEntry{Key: sensor.Key{Device: "1", Sensor: "3"}, Model: "model_1_3"}
	for _, tc := range []struct {
		names []string
		want  string // "" for no error
	}{
		{nil, ""},
		{[]string{"Value"}, ""},
		{[]string{"3"}, ""},
		{[]string{"value"}, `model model_1_3 was fitted on a column named "value", but sensor 1/3 scores its readings' Value: the model's column must be Value or "3"`},
		{[]string{"4"}, `model model_1_3 was fitted on a column named "4", but sensor 1/3 scores its readings' Value: the model's column must be Value or "3"`},
	} {
		m, err := svm.New(svm.Params{Kernel: svm.Linear, SupportVectors: [][]float64{{1}}, DualCoef: []float64{1}, FeatureNames: tc.names})
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if err := checkFeatureName(m, e); err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("names %q: error %q, want %q", tc.names, got, tc.want)
		}
	}
}

// TestRunChecksFeatureName scores with a model fitted on a DataFrame column
// named Value (scikit-learn 1.5.2, numpy 2.1.3, from
// internal/svm/testdata/versions), and with the same file naming its
// column Level, which fails the sensor for good.
func TestRunChecksFeatureName(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "value_model.joblib"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, column, errPart string
	}{
		{"Value", "Value", ""},
		{"Level", "Level", `fitted on a column named "Level"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t, Config{})
			fx.models.Set(k11.ModelName(), bytes.ReplaceAll(data, []byte("Value"), []byte(tc.column)))
			_, err := fx.f.Run(t.Context(), azfunc.QueueMessage{ID: "m", DequeueCount: 1, Body: jobBody(t, k11)})
			switch {
			case tc.errPart == "" && err != nil:
				t.Fatal(err)
			case tc.errPart != "" && (err == nil || !azfunc.IsPermanent(err) || !strings.Contains(err.Error(), tc.errPart)):
				t.Fatalf("err = %v, want a permanent error containing %q", err, tc.errPart)
			}
		})
	}
}
