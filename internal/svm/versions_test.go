package svm

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	goldenfile "github.com/batchscore/batchscore/internal/golden"
	"github.com/google/go-cmp/cmp"
)

// versionsDir holds the model matrix written by make_matrix.sh (make
// model-matrix): one folder per version set of sets.txt.
var versionsDir = filepath.Join("testdata", "versions")

// modelsDoc is the document whose support table TestVersionMatrix writes.
var modelsDoc = filepath.Join("..", "..", "docs", "models.md")

// matrixFormats are the file formats of the matrix, in the table's order.
var matrixFormats = []string{"pickle4", "pickle5", "joblib", "joblib-zlib", "joblib-gzip",
	"joblib-bz2", "joblib-lzma", "joblib-xz", "joblib-lz4"}

// versionSets reads the set names of sets.txt, in order.
func versionSets(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(versionsDir, "sets.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var sets []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		sets = append(sets, fields[0])
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return sets
}

// csvMaps reads a CSV file with a header row as one map per record.
func csvMaps(t *testing.T, path string) []map[string]string {
	t.Helper()
	recs := readCSV(t, path)
	if len(recs) == 0 {
		t.Fatalf("%s is empty", path)
	}
	var out []map[string]string
	for _, rec := range recs[1:] {
		m := make(map[string]string, len(rec))
		for i, h := range recs[0] {
			if i < len(rec) {
				m[h] = rec[i]
			}
		}
		out = append(out, m)
	}
	return out
}

// setResult is what one version set gave, per format.
type setResult struct {
	versions map[string]string
	ok       map[string]int // files that loaded and matched, per format
	total    map[string]int
	refused  int // unsupported estimators refused with the class and the version
	nRefused int
}

// TestVersionMatrix loads every file of the model matrix (scikit-learn
// 1.0 to the newest, numpy 1.2x and 2.x, pickle protocols 4 and 5, joblib
// raw and with each of its compressions; NumPy- and DataFrame-fitted, bare
// OneClassSVM and Pipeline, four kernels, gamma 'scale' and 'auto') and
// checks that it scores within 1e-12 relative of the writing version's own
// decision_function, with the same labels, and keeps feature_names_in_.
// Unsupported estimators must be refused naming their class and the
// scikit-learn version that wrote them. The support table of
// docs/models.md is generated from the results (-update rewrites it).
func TestVersionMatrix(t *testing.T) {
	var results []setResult
	worst, worstFile := 0.0, ""
	for _, set := range versionSets(t) {
		dir := filepath.Join(versionsDir, set)
		if _, err := os.Stat(filepath.Join(dir, "manifest.csv")); err != nil {
			t.Errorf("set %s: %v (make model-matrix SETS=%s writes it)", set, err, set)
			continue
		}
		res := setResult{ok: map[string]int{}, total: map[string]int{}, versions: map[string]string{}}
		for _, v := range csvMaps(t, filepath.Join(dir, "versions.csv")) {
			res.versions[v["package"]] = v["version"]
		}
		type want struct {
			x        []float64
			decision float64
			predict  string
		}
		expected := make(map[string][]want)
		for _, e := range csvMaps(t, filepath.Join(dir, "expected.csv")) {
			var x []float64
			for _, s := range strings.Fields(e["x"]) {
				x = append(x, parseFloat(t, s))
			}
			expected[e["file"]] = append(expected[e["file"]], want{x, parseFloat(t, e["decision"]), e["predict"]})
		}
		manifest := csvMaps(t, filepath.Join(dir, "manifest.csv"))
		if len(manifest) < 36 {
			t.Errorf("set %s: only %d models", set, len(manifest))
		}
		for _, rec := range manifest {
			file, format := rec["file"], rec["format"]
			res.total[format]++
			t.Run(set+"/"+file, func(t *testing.T) {
				data, err := os.ReadFile(filepath.Join(dir, "models", file))
				if err != nil {
					t.Fatal(err)
				}
				wantFormat := FormatPickle
				if strings.HasPrefix(format, "joblib") {
					wantFormat = FormatJoblib
				}
				if f, err := Detect(data); f != wantFormat {
					t.Errorf("Detect: %v, %v; want %v", f, err, wantFormat)
				}
				m, err := Load(data)
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if nf, _ := strconv.Atoi(rec["n_features"]); m.NFeatures() != nf {
					t.Errorf("%d features, want %d", m.NFeatures(), nf)
				}
				if nsv, _ := strconv.Atoi(rec["n_sv"]); m.NSupport() != nsv {
					t.Errorf("%d support vectors, want %d", m.NSupport(), nsv)
				}
				var names []string
				if rec["feature_names"] != "" {
					names = strings.Split(rec["feature_names"], ";")
				}
				if diff := cmp.Diff(names, m.FeatureNames()); diff != "" {
					t.Errorf("feature names (-want +got):\n%s", diff)
				}
				ws := expected[file]
				if len(ws) == 0 {
					t.Fatal("no expected values")
				}
				failed := false
				for i, w := range ws {
					d := m.Decision(w.x)
					rel := math.Abs(d-w.decision) / math.Max(math.Abs(w.decision), termScale(m, w.x))
					if rel > worst {
						worst, worstFile = rel, set+"/"+file
					}
					if !(rel <= 1e-12) {
						failed = true
						t.Errorf("row %d: decision %.17g, want %.17g (relative error %.3g)", i, d, w.decision, rel)
					}
					if label := map[bool]string{true: "-1", false: "1"}[IsAnomaly(d)]; label != w.predict {
						failed = true
						t.Errorf("row %d: label %s, want %s (decision %.17g)", i, label, w.predict, d)
					}
				}
				if !failed {
					res.ok[format]++
				}
			})
		}
		sk := res.versions["scikit-learn"]
		for _, rec := range csvMaps(t, filepath.Join(dir, "refused.csv")) {
			res.nRefused++
			t.Run(set+"/refused/"+rec["file"], func(t *testing.T) {
				data, err := os.ReadFile(filepath.Join(dir, "refused", rec["file"]))
				if err != nil {
					t.Fatal(err)
				}
				m, err := Load(data)
				if err == nil {
					t.Fatalf("loaded a model of %d support vectors, want an error", m.NSupport())
				}
				msg := err.Error()
				if !errors.Is(err, ErrInvalidModel) || !strings.Contains(msg, rec["class"]) || !strings.Contains(msg, "scikit-learn "+sk) {
					t.Fatalf("error %q: want one wrapping ErrInvalidModel that names %s and scikit-learn %s", msg, rec["class"], sk)
				}
				res.refused++
			})
		}
		results = append(results, res)
	}
	t.Logf("worst relative decision error %.3g (%s)", worst, worstFile)
	checkSupportTable(t, results)
}

// termScale is the size of the terms the decision of x adds up,
// |intercept| + sum_i |dual_i * K(z, sv_i)|: a floating-point sum is exact
// to a few units in the last place of that, not of the sum itself, which
// cancels to near 0 on the decision boundary (linear kernels, above all).
func termScale(m *Model, x []float64) float64 {
	z := make([]float64, m.nf)
	m.standardize(z, x)
	s := math.Abs(m.intercept)
	for i := range m.nsv {
		s += math.Abs(m.dual[i] * m.kernelValue(z, m.sv[i*m.nf:(i+1)*m.nf]))
	}
	return s
}

// Markers around the generated table in docs/models.md.
const (
	tableBegin = "<!-- support table: generated by TestVersionMatrix (go test ./internal/svm -run TestVersionMatrix -update) -->\n"
	tableEnd   = "<!-- end of support table -->\n"
)

// supportTable renders the results as a Markdown table: one row per
// version set, one column per format, each cell files loaded and scored
// correctly / files.
func supportTable(results []setResult) string {
	var b strings.Builder
	b.WriteString("| scikit-learn | numpy | joblib | pandas | Python |")
	for _, f := range matrixFormats {
		b.WriteString(" " + strings.TrimPrefix(f, "joblib-") + " |")
	}
	b.WriteString(" refused estimators |\n|---|---|---|---|---|")
	b.WriteString(strings.Repeat("---|", len(matrixFormats)+1) + "\n")
	for _, r := range results {
		v := r.versions
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |", v["scikit-learn"], v["numpy"], v["joblib"], v["pandas"], v["python"])
		for _, f := range matrixFormats {
			switch {
			case r.total[f] == 0:
				b.WriteString(" - |")
			case r.ok[f] == r.total[f]:
				fmt.Fprintf(&b, " ok %d/%d |", r.ok[f], r.total[f])
			default:
				fmt.Fprintf(&b, " **FAILS** %d/%d |", r.ok[f], r.total[f])
			}
		}
		if r.refused == r.nRefused {
			fmt.Fprintf(&b, " ok %d/%d |\n", r.refused, r.nRefused)
		} else {
			fmt.Fprintf(&b, " **FAILS** %d/%d |\n", r.refused, r.nRefused)
		}
	}
	return b.String()
}

// checkSupportTable compares the table between the markers of
// docs/models.md with the results (rewriting it under -update).
func checkSupportTable(t *testing.T, results []setResult) {
	t.Helper()
	doc, err := os.ReadFile(modelsDoc)
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	i := strings.Index(text, tableBegin)
	j := strings.Index(text, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("%s has no support table between %q and %q", modelsDoc, tableBegin, tableEnd)
	}
	got := text[:i+len(tableBegin)] + supportTable(results) + text[j:]
	goldenfile.Check(t, modelsDoc, []byte(got), updateGolden())
}

// TestMatrixCoverage checks that every set of the matrix holds what the
// issue asks for: every format, both kinds of data and of estimator with
// each, every kernel with gamma 'scale' and 'auto'.
func TestMatrixCoverage(t *testing.T) {
	for _, set := range versionSets(t) {
		path := filepath.Join(versionsDir, set, "manifest.csv")
		if _, err := os.Stat(path); err != nil {
			continue // TestVersionMatrix reports it
		}
		seen := make(map[string]bool)
		for _, rec := range csvMaps(t, path) {
			seen[rec["data"]+"/"+rec["estimator"]+"/"+rec["format"]] = true
			seen[rec["data"]+"/"+rec["estimator"]+"/"+rec["kernel"]+"/"+rec["gamma"]] = true
		}
		for _, d := range []string{"array", "frame"} {
			for _, e := range []string{"bare", "pipeline"} {
				for _, f := range matrixFormats {
					if !seen[d+"/"+e+"/"+f] {
						t.Errorf("set %s: no %s %s model in format %s", set, d, e, f)
					}
				}
				for _, k := range []string{"rbf", "linear", "poly", "sigmoid"} {
					for _, g := range []string{"scale", "auto"} {
						if !seen[d+"/"+e+"/"+k+"/"+g] {
							t.Errorf("set %s: no %s %s model with kernel %s, gamma %s", set, d, e, k, g)
						}
					}
				}
			}
		}
	}
}

// TestRefusedGlobalNamesVersion: a global outside the allow-list that is
// not a scikit-learn class (here numpy's _reconstruct renamed, as a future
// numpy might move it) is refused with the scikit-learn version that wrote
// the file; a version that is not a version number is left out.
func TestRefusedGlobalNamesVersion(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(versionsDir, "sk1.9-np2.4", "models", "bare_array_rbf_scale_pickle4.pkl"))
	if err != nil {
		t.Fatal(err)
	}
	// str replaces a SHORT_BINUNICODE string by another of the same length.
	str := func(s string) []byte { return append([]byte{0x8c, byte(len(s))}, s...) }
	for _, tc := range []struct {
		name string
		repl []string // old, new, old, new...
		want string
	}{
		{"unknown numpy function", []string{"_reconstruct", "_unknownfun_"},
			"svm: invalid model: pickle: global numpy._core.multiarray._unknownfun_ is not allowed (file written by scikit-learn 1.9.1)"},
		{"unknown kernel", []string{"rbf", "xyz"},
			`svm: invalid model: OneClassSVM kernel "xyz" is not supported; supported kernels: rbf, linear, poly, sigmoid (file written by scikit-learn 1.9.1)`},
		{"version that is no version", []string{"rbf", "xyz", "1.9.1", "1 9 1"},
			`svm: invalid model: OneClassSVM kernel "xyz" is not supported; supported kernels: rbf, linear, poly, sigmoid`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			edited := data
			for i := 0; i < len(tc.repl); i += 2 {
				old, new := str(tc.repl[i]), str(tc.repl[i+1])
				if !bytes.Contains(edited, old) {
					t.Fatalf("no %q in the file", tc.repl[i])
				}
				edited = bytes.Replace(edited, old, new, 1)
			}
			_, err := Load(edited)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
