package svm

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// libsvmCase is one generated model of testdata/libsvm (see make_models.sh).
type libsvmCase struct {
	name     string
	features int // width of the input rows
}

func readLibSVMCases(t *testing.T) []libsvmCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "libsvm", "cases.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []libsvmCase
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) != 2 {
			t.Fatalf("cases.txt: bad line %q", line)
		}
		n, err := strconv.Atoi(f[1])
		if err != nil {
			t.Fatalf("cases.txt: %v", err)
		}
		cases = append(cases, libsvmCase{f[0], n})
	}
	if len(cases) == 0 {
		t.Fatal("cases.txt lists no case")
	}
	return cases
}

// readSparseRows reads rows in libsvm's data format ("label i:v i:v ...")
// into a dense row-major matrix of nf columns, independently of the loader.
func readSparseRows(t *testing.T, path string, nf int) []float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var X []float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		row := make([]float64, nf)
		for _, kv := range fields[1:] {
			k, v, _ := strings.Cut(kv, ":")
			i, err := strconv.Atoi(k)
			if err != nil || i < 1 || i > nf {
				t.Fatalf("%s: bad index %q", path, kv)
			}
			if row[i-1], err = strconv.ParseFloat(v, 64); err != nil {
				t.Fatal(err)
			}
		}
		X = append(X, row...)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return X
}

type libsvmExpected struct {
	label     int
	decision  float64
	magnitude float64
}

func readLibSVMExpected(t *testing.T, path string) []libsvmExpected {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []libsvmExpected
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("%s: bad line %q", path, line)
		}
		var e libsvmExpected
		var err1, err2, err3 error
		e.label, err1 = strconv.Atoi(f[0])
		e.decision, err2 = strconv.ParseFloat(f[1], 64)
		e.magnitude, err3 = strconv.ParseFloat(f[2], 64)
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("%s: bad line %q", path, line)
		}
		out = append(out, e)
	}
	return out
}

// TestLoadLibSVMGolden scores the svm-train models of testdata/libsvm and
// compares with decision values computed from the same files in double
// arithmetic (gen.py), within 1e-9 relative to the size of the terms, and
// with svm-predict's labels exactly.
func TestLoadLibSVMGolden(t *testing.T) {
	padded := 0
	kernels := map[Kernel]int{}
	for _, c := range readLibSVMCases(t) {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join("testdata", "libsvm")
			f, err := os.Open(filepath.Join(dir, c.name+".model"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			m, err := LoadLibSVM(f)
			if err != nil {
				t.Fatal(err)
			}
			kernels[m.Kernel()]++
			if m.NFeatures() > c.features {
				t.Fatalf("model has %d features, inputs %d", m.NFeatures(), c.features)
			}
			if m.NFeatures() < c.features {
				padded++
				if m, err = PadFeatures(m, c.features); err != nil {
					t.Fatal(err)
				}
			}
			X := readSparseRows(t, filepath.Join(dir, c.name+".input"), c.features)
			want := readLibSVMExpected(t, filepath.Join(dir, c.name+".expected"))
			if len(X) != len(want)*c.features {
				t.Fatalf("%d input values, %d expected rows", len(X), len(want))
			}
			batch := make([]float64, len(want))
			m.DecisionBatch(batch, X)
			for i, w := range want {
				got := m.Decision(X[i*c.features : (i+1)*c.features])
				if math.Float64bits(got) != math.Float64bits(batch[i]) {
					t.Errorf("row %d: Decision %v != DecisionBatch %v", i, got, batch[i])
				}
				if d := math.Abs(got - w.decision); d > 1e-9*w.magnitude {
					t.Errorf("row %d: decision %v, want %v (diff %.3g, magnitude %.3g)", i, got, w.decision, d, w.magnitude)
				}
				label := 1
				if IsAnomaly(got) {
					label = -1
				}
				if label != w.label {
					t.Errorf("row %d: label %d, svm-predict says %d (decision %v)", i, label, w.label, got)
				}
			}
		})
	}
	if padded == 0 {
		t.Error("no case has a model narrower than its input rows: PadFeatures untested")
	}
	if len(kernels) != 4 {
		t.Errorf("kernels covered: %v, want all four", kernels)
	}
}

// TestLoadLibSVMHeader checks the parameters LoadLibSVM reads from a
// hand-written model: sparse indices, intercept = -rho, kernel names.
func TestLoadLibSVMHeader(t *testing.T) {
	tests := []struct {
		name  string
		model string
		want  Params
	}{
		{
			name: "rbf sparse",
			model: "svm_type one_class\nkernel_type rbf\ngamma 0.10000000149011612\nnr_class 2\ntotal_sv 3\nrho 2.5\nSV\n" +
				"0.25 1:0.4 3:0.2 \n1 2:-0.7 \n0.75 1:1e-3 2:2 3:3\n\n",
			want: Params{Kernel: RBF, Gamma: 0.10000000149011612, Intercept: -2.5,
				SupportVectors: [][]float64{{0.4, 0, 0.2}, {0, -0.7, 0}, {1e-3, 2, 3}},
				DualCoef:       []float64{0.25, 1, 0.75}},
		},
		{
			name:  "linear has no gamma",
			model: "svm_type one_class\nkernel_type linear\nnr_class 2\ntotal_sv 1\nrho -0.5\nSV\n1 2:1\n",
			want:  Params{Kernel: Linear, Intercept: 0.5, SupportVectors: [][]float64{{0, 1}}, DualCoef: []float64{1}},
		},
		{
			name: "polynomial with CRLF and extra libsvm lines",
			model: "svm_type one_class\r\nkernel_type polynomial\r\ndegree 2\r\ngamma 0.5\r\ncoef0 -1\r\nnr_class 2\r\n" +
				"total_sv 1\r\nrho 0\r\nlabel 1 -1\r\nnr_sv 1 0\r\nSV\r\n1 1:2\r\n",
			want: Params{Kernel: Poly, Degree: 2, Gamma: 0.5, Coef0: -1, Intercept: 0,
				SupportVectors: [][]float64{{2}}, DualCoef: []float64{1}},
		},
		{
			name:  "sigmoid",
			model: "svm_type one_class\nkernel_type sigmoid\ngamma 2\ncoef0 0.25\nnr_class 2\ntotal_sv 1\nrho 1\nSV\n-1 1:1 2:2\n",
			want: Params{Kernel: Sigmoid, Gamma: 2, Coef0: 0.25, Intercept: -1,
				SupportVectors: [][]float64{{1, 2}}, DualCoef: []float64{-1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := LoadLibSVM(strings.NewReader(tt.model))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, m.Params()); diff != "" {
				t.Errorf("Params (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadLibSVMErrors(t *testing.T) {
	const head = "svm_type one_class\nkernel_type rbf\ngamma 0.5\nnr_class 2\n"
	tests := []struct {
		name, model, want string
	}{
		{"empty", "", "libsvm model: line 0: no SV line: not a complete libsvm model"},
		{"c_svc", "svm_type c_svc\nkernel_type rbf\n", `libsvm model: line 1: svm_type "c_svc" is not supported: only one_class models (svm-train -s 2) can be scored`},
		{"epsilon_svr", "svm_type epsilon_svr\n", `libsvm model: line 1: svm_type "epsilon_svr" is not supported: only one_class models (svm-train -s 2) can be scored`},
		{"precomputed", "svm_type one_class\nkernel_type precomputed\n", `libsvm model: line 2: kernel_type "precomputed" is not supported (linear, polynomial, rbf or sigmoid)`},
		{"unknown line", "svm_type one_class\nweights 1\n", `libsvm model: line 2: unknown header line "weights"`},
		{"twice", "svm_type one_class\nsvm_type one_class\n", "libsvm model: line 2: svm_type given twice"},
		{"no rho", head + "total_sv 1\nSV\n1 1:1\n", "libsvm model: line 6: no rho line"},
		{"no gamma", "svm_type one_class\nkernel_type rbf\ntotal_sv 1\nrho 0\nSV\n1 1:1\n", "libsvm model: line 5: no gamma line for kernel rbf"},
		{"nan rho", head + "total_sv 1\nrho nan\nSV\n1 1:1\n", `libsvm model: line 6: rho: "nan" is not finite`},
		{"bad gamma", "svm_type one_class\nkernel_type rbf\ngamma x\n", `libsvm model: line 3: gamma: "x" is not a number`},
		{"too few SV", head + "total_sv 2\nrho 0\nSV\n1 1:1\n", "libsvm model: line 8: 1 support vectors, total_sv says 2"},
		{"too many SV", head + "total_sv 1\nrho 0\nSV\n1 1:1\n1 1:2\n", "libsvm model: line 9: more support vectors than total_sv 1"},
		{"zero SV", head + "total_sv 0\nrho 0\nSV\n", "libsvm model: line 7: no support vectors"},
		{"decreasing index", head + "total_sv 1\nrho 0\nSV\n1 2:1 1:1\n", "libsvm model: line 8: support vector index 1 after 2: indices must increase"},
		{"index 0", head + "total_sv 1\nrho 0\nSV\n1 0:1\n", `libsvm model: line 8: support vector index "0" is not an integer in 1..1048576`},
		{"huge index", head + "total_sv 1\nrho 0\nSV\n1 99999999:1\n", `libsvm model: line 8: support vector index "99999999" is not an integer in 1..1048576`},
		{"no colon", head + "total_sv 1\nrho 0\nSV\n1 5\n", `libsvm model: line 8: support vector entry "5" is not index:value`},
		{"inf value", head + "total_sv 1\nrho 0\nSV\n1 1:inf\n", `libsvm model: line 8: support vector feature 1: "inf" is not finite`},
		{"no features", head + "total_sv 1\nrho 0\nSV\n1\n", "libsvm model: line 8: support vectors have no features (every value is missing)"},
		{"nr_class 3", "svm_type one_class\nkernel_type linear\nnr_class 3\ntotal_sv 1\nrho 0\nSV\n1 1:1\n", "libsvm model: line 6: nr_class 3, one-class models have 2"},
		{"negative degree", "svm_type one_class\nkernel_type polynomial\ndegree -1\n", `libsvm model: line 3: degree "-1" is not a non-negative integer`},
		{"zero gamma", "svm_type one_class\nkernel_type rbf\ngamma 0\nnr_class 2\ntotal_sv 1\nrho 0\nSV\n1 1:1\n", "libsvm model: svm: invalid model: gamma 0 must be > 0 for the rbf kernel"},
		{"blank header line", "svm_type one_class\n\n", "libsvm model: line 2: empty header line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := LoadLibSVM(strings.NewReader(tt.model))
			if err == nil {
				t.Fatalf("got a model of %d features, want error %q", m.NFeatures(), tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestWriteLibSVMRoundTrip writes every generated model and reads it back:
// the parameters must be bit for bit the same.
func TestWriteLibSVMRoundTrip(t *testing.T) {
	for _, c := range readLibSVMCases(t) {
		t.Run(c.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "libsvm", c.name+".model"))
			if err != nil {
				t.Fatal(err)
			}
			m, err := LoadLibSVM(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := WriteLibSVM(&buf, m); err != nil {
				t.Fatal(err)
			}
			back, err := LoadLibSVM(&buf)
			if err != nil {
				t.Fatalf("reading back: %v", err)
			}
			if diff := cmp.Diff(m.Params(), back.Params(), bitsEqual); diff != "" {
				t.Errorf("Params after round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWriteLibSVMRefusesScaler(t *testing.T) {
	m, err := New(Params{Kernel: RBF, Gamma: 1, SupportVectors: [][]float64{{1}}, DualCoef: []float64{1}, ScalerMean: []float64{2}})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteLibSVM(&bytes.Buffer{}, m); err == nil {
		t.Error("WriteLibSVM wrote a model with a scaler")
	}
}

func TestPadFeatures(t *testing.T) {
	m, err := New(Params{Kernel: RBF, Gamma: 0.5, SupportVectors: [][]float64{{1, 2}, {0, -1}},
		DualCoef: []float64{0.5, 0.5}, Intercept: -0.1, ScalerMean: []float64{1, 1}, ScalerScale: []float64{2, 0}})
	if err != nil {
		t.Fatal(err)
	}
	wide, err := PadFeatures(m, 4)
	if err != nil {
		t.Fatal(err)
	}
	x := []float64{0.5, 3, 0.25, -2}
	// libsvm's meaning: the extra features meet no support-vector value, so
	// each adds x_j^2 to the squared distance (the new scaler part is identity).
	z := []float64{(0.5 - 1) / 2, 3 - 1}
	extra := 0.25*0.25 + 2*2
	d1 := (z[0]-1)*(z[0]-1) + (z[1]-2)*(z[1]-2) + extra
	d2 := (z[0]-0)*(z[0]-0) + (z[1]+1)*(z[1]+1) + extra
	want := 0.5*math.Exp(-0.5*d1) + 0.5*math.Exp(-0.5*d2) - 0.1
	if got := wide.Decision(x); math.Abs(got-want) > 1e-15 {
		t.Errorf("Decision = %v, want %v", got, want)
	}
	if same, _ := PadFeatures(m, 2); same != m {
		t.Error("PadFeatures to the same width made a new model")
	}
	if _, err := PadFeatures(m, 1); err == nil {
		t.Error("PadFeatures narrowed a model")
	}
}

// bitsEqual compares float64 values bit for bit (so -0 != 0 and NaN == NaN).
var bitsEqual = cmp.Comparer(func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) })

// TestWriteLibSVMReadBySVMPredict checks that libsvm's own svm-predict reads
// what WriteLibSVM writes and gives the labels the original model gives.
// It is skipped where libsvm-tools is not installed.
func TestWriteLibSVMReadBySVMPredict(t *testing.T) {
	predict, err := exec.LookPath("svm-predict")
	if err != nil {
		t.Skip("svm-predict not installed (Debian libsvm-tools)")
	}
	for _, name := range []string{"rbf_f3_nu0.5_g0.05", "poly_f5_nu0.1_g0.5", "sigmoid_f2_nu0.5_g0.05", "linear_f8_nu0.1_g0.5"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", "libsvm")
			data, err := os.ReadFile(filepath.Join(dir, name+".model"))
			if err != nil {
				t.Fatal(err)
			}
			m, err := LoadLibSVM(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := WriteLibSVM(&buf, m); err != nil {
				t.Fatal(err)
			}
			tmp := t.TempDir()
			mp, out := filepath.Join(tmp, "m.model"), filepath.Join(tmp, "labels")
			if err := os.WriteFile(mp, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.CommandContext(t.Context(), predict, "-q", filepath.Join(dir, name+".input"), mp, out)
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("svm-predict: %v\n%s", err, msg)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, e := range readLibSVMExpected(t, filepath.Join(dir, name+".expected")) {
				want = append(want, strconv.Itoa(e.label))
			}
			if diff := cmp.Diff(want, strings.Fields(string(got))); diff != "" {
				t.Errorf("svm-predict labels with the written model (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLoadLibSVMSparseBomb: 256 support vectors of one value each at feature
// 2^20 would be 2 GiB of dense zeros; refused before anything is made.
func TestLoadLibSVMSparseBomb(t *testing.T) {
	text := "svm_type one_class\nkernel_type rbf\ngamma 0.5\nnr_class 2\ntotal_sv 256\nrho 0.1\nSV\n" +
		strings.Repeat("1 1048576:0\n", 256)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := LoadLibSVM(strings.NewReader(text))
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "256 support vectors x 1048576 features is too large for the 256 values the file lists") {
		t.Errorf("error %v, want the size refused", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("allocated %d bytes for a %d-byte file", grew, len(text))
	}
}
