package svm

import (
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// updateGolden reports whether -update was given (the flag is registered by
// another test file of the package).
func updateGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

var sklearnDir = filepath.Join("testdata", "sklearn")

// loadSklearnFile loads a generated model with the loader its format names.
func loadSklearnFile(t *testing.T, format, file string) *Model {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(sklearnDir, "models", file))
	if err != nil {
		t.Fatal(err)
	}
	load := LoadPickle
	if strings.HasPrefix(format, "joblib") {
		load = LoadJoblib
	}
	m, err := load(data)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	viaLoad, err := Load(data)
	if err != nil {
		t.Fatalf("%s: Load: %v", file, err)
	}
	if diff := cmp.Diff(m.Params(), viaLoad.Params()); diff != "" {
		t.Errorf("%s: Load and the format's loader disagree (-want +got):\n%s", file, diff)
	}
	return m
}

// TestSklearnMatrix checks every generated model (kernels, feature counts,
// scalers, pickle protocols 0-5, joblib raw/zlib/gzip, gamma='scale',
// float32, big-endian and Fortran-ordered arrays) against scikit-learn
// 1.2.1's decision_function and predict: labels equal, decisions within
// 1e-9 relative.
func TestSklearnMatrix(t *testing.T) {
	rows := make(map[int][][]float64)
	for _, nf := range []int{1, 2, 4, 7, 16} {
		for _, rec := range readCSV(t, filepath.Join(sklearnDir, "rows_"+strconv.Itoa(nf)+".csv")) {
			r := make([]float64, len(rec))
			for j, s := range rec {
				r[j] = parseFloat(t, s)
			}
			rows[nf] = append(rows[nf], r)
		}
	}
	type want struct {
		decision float64
		anomaly  bool
	}
	expected := make(map[string][]want)
	for _, rec := range readCSV(t, filepath.Join(sklearnDir, "expected.csv"))[1:] {
		expected[rec[0]] = append(expected[rec[0]], want{parseFloat(t, rec[2]), rec[3] == "-1"})
	}

	manifest := readCSV(t, filepath.Join(sklearnDir, "models.csv"))[1:]
	if len(manifest) < 70 {
		t.Fatalf("only %d models in models.csv", len(manifest))
	}
	formats := make(map[string]int)
	worst, worstModel, worstScaled := 0.0, "", 0.0
	for _, rec := range manifest {
		name, file, format := rec[0], rec[1], rec[2]
		nf, err := strconv.Atoi(rec[3])
		if err != nil {
			t.Fatal(err)
		}
		formats[format]++
		t.Run(name, func(t *testing.T) {
			m := loadSklearnFile(t, format, file)
			if m.NFeatures() != nf {
				t.Fatalf("%d features, want %d", m.NFeatures(), nf)
			}
			ws := expected[name]
			if len(ws) != len(rows[nf]) {
				t.Fatalf("%d expected values for %d rows", len(ws), len(rows[nf]))
			}
			flat := slices.Concat(rows[nf]...)
			batch := make([]float64, len(ws))
			m.DecisionBatch(batch, flat)
			for i, w := range ws {
				d := m.Decision(rows[nf][i])
				if math.Float64bits(d) != math.Float64bits(batch[i]) {
					t.Errorf("row %d: DecisionBatch %v != Decision %v", i, batch[i], d)
				}
				rel := math.Abs(d-w.decision) / math.Max(math.Abs(w.decision), 1e-300)
				if math.Abs(d-w.decision) <= 1e-300 {
					rel = 0
				}
				worstScaled = math.Max(worstScaled, math.Abs(d-w.decision)/math.Max(1, math.Abs(w.decision)))
				if rel > worst {
					worst, worstModel = rel, name
				}
				if rel > 1e-9 {
					t.Errorf("row %d: decision %.17g, want %.17g (relative error %.3g)", i, d, w.decision, rel)
				}
				if IsAnomaly(d) != w.anomaly {
					t.Errorf("row %d: anomaly %v, want %v (decision %.17g, sklearn %.17g)", i, IsAnomaly(d), w.anomaly, d, w.decision)
				}
			}
		})
	}
	for _, f := range []string{"pickle0", "pickle1", "pickle2", "pickle3", "pickle4", "pickle5", "joblib", "joblib-zlib", "joblib-gzip",
		"pickle2-py2", "pickle-numpy2-2", "pickle-numpy2-3"} {
		if formats[f] == 0 {
			t.Errorf("no model in format %s", f)
		}
	}
	// The variants the loaders must read, each by at least one model of the
	// manifest (a file dropped from it would otherwise go unnoticed).
	for _, v := range []string{"rbf_", "linear_", "poly_", "sigmoid_", "_nf1_", "_nf16_", "_plain_", "_scaled_",
		"make_pipeline", "fortran", "bigendian", "float32", "no_mean", "no_std", "gamma_scale", "gamma_auto",
		"bare", "passthrough", "joblib-sklearn-externals", "joblib_protocol5"} {
		if !slices.ContainsFunc(manifest, func(rec []string) bool { return strings.Contains(rec[0], v) }) {
			t.Errorf("no model named *%s* in models.csv", v)
		}
	}
	// Protocol 5 pickles store arrays through numpy's _frombuffer.
	frombuffer := 0
	for _, rec := range manifest {
		if rec[2] == "pickle5" {
			data, err := os.ReadFile(filepath.Join(sklearnDir, "models", rec[1]))
			if err == nil && strings.Contains(string(data), "_frombuffer") {
				frombuffer++
			}
		}
	}
	if frombuffer == 0 {
		t.Error("no pickle5 model stores its arrays with _frombuffer")
	}
	t.Logf("%d models; worst relative decision error %.3g (%s); worst |d-want|/max(1,|want|) %.3g",
		len(manifest), worst, worstModel, worstScaled)
}

// TestSklearnErrors checks the one-line errors for files that are not
// supported models (golden file testdata/sklearn/errors.golden; -update
// rewrites it).
func TestSklearnErrors(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join(sklearnDir, "errors"))
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(sklearnDir, "errors", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		load := LoadPickle
		if strings.Contains(e.Name(), "joblib") {
			load = LoadJoblib
		}
		m, err := load(data)
		if err == nil {
			t.Errorf("%s: loaded a model with %d support vectors, want an error", e.Name(), m.NSupport())
			continue
		}
		if !errors.Is(err, ErrInvalidModel) {
			t.Errorf("%s: error %q does not wrap ErrInvalidModel", e.Name(), err)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error has more than one line: %q", e.Name(), err)
		}
		got.WriteString(e.Name() + ": " + err.Error() + "\n")
	}
	golden := filepath.Join(sklearnDir, "errors.golden")
	if updateGolden() {
		if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got.String()); diff != "" {
		t.Errorf("errors differ from %s (-want +got):\n%s", golden, diff)
	}
}

// BenchmarkLoadPickle measures loading a reference model (2 support
// vectors) and a generated one with 16 features.
func BenchmarkLoadPickle(b *testing.B) {
	for _, file := range []string{"reference/models/model_1_1", "sklearn/models/rbf_nf16_scaled_pickle4.pkl"} {
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(filepath.Base(file), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := LoadPickle(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLoadJoblib measures a zlib-compressed joblib file.
func BenchmarkLoadJoblib(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(sklearnDir, "models", "rbf_nf4_every_joblib-zlib.joblib"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := LoadJoblib(data); err != nil {
			b.Fatal(err)
		}
	}
}
