package svm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// addFileSeeds adds every file matching the patterns (under testdata) to
// the fuzz corpus.
func addFileSeeds(f *testing.F, patterns ...string) {
	f.Helper()
	for _, p := range patterns {
		files, err := filepath.Glob(filepath.Join("testdata", p))
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
}

// checkLoaded scores a row of zeros with a model a fuzzed input produced:
// whatever loads must be a valid model, and an error must be one line.
func checkLoaded(t *testing.T, m *Model, err error) {
	if err != nil {
		if m != nil {
			t.Fatal("a model and an error")
		}
		if strings.Contains(err.Error(), "\n") {
			t.Fatalf("error is not one line: %q", err)
		}
		return
	}
	if m.NFeatures() <= 0 || m.NSupport() <= 0 {
		t.Fatalf("loaded a model with %d features and %d support vectors", m.NFeatures(), m.NSupport())
	}
	_ = m.Decision(make([]float64, m.NFeatures()))
}

func FuzzLoadPickle(f *testing.F) {
	addFileSeeds(f, "reference/models/model_1_[12]", "sklearn/models/*nf4*.pkl", "sklearn/errors/*.pkl", "hostile/*.pkl")
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := LoadPickle(data)
		checkLoaded(t, m, err)
	})
}

func FuzzLoadJoblib(f *testing.F) {
	addFileSeeds(f, "sklearn/models/*nf4*.joblib", "sklearn/errors/*joblib*", "hostile/*.joblib")
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := LoadJoblib(data)
		checkLoaded(t, m, err)
	})
}
