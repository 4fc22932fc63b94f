package svm

import (
	"bytes"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// updating reports whether -update (rewrite golden files in testdata) was
// given. The flag is registered by another test file of the package
// (model_test.go or sklearn_test.go); it is looked up here at run time.
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// awkwardParams makes a valid model with awkward numbers: subnormals, -0,
// values that need 17 digits, huge and tiny exponents.
func awkwardParams(r *rand.Rand, k Kernel, nsv, nf int, scaler bool) Params {
	awkward := []float64{0, math.Copysign(0, -1), 5e-324, 2.2250738585072014e-308, 1e308, -1.7976931348623157e308,
		0.1, 1.0 / 3, 123456789.12345678, -2.5e-17}
	num := func() float64 {
		if r.IntN(4) == 0 {
			return awkward[r.IntN(len(awkward))]
		}
		return r.NormFloat64() * math.Pow(10, float64(r.IntN(10)-5))
	}
	p := Params{Kernel: k, Gamma: math.Abs(num()) + 1e-3, Coef0: num(), Degree: r.IntN(5), Intercept: num()}
	for range nsv {
		sv := make([]float64, nf)
		for j := range sv {
			sv[j] = num()
		}
		p.SupportVectors = append(p.SupportVectors, sv)
		p.DualCoef = append(p.DualCoef, num())
	}
	if scaler {
		p.ScalerMean = make([]float64, nf)
		p.ScalerScale = make([]float64, nf)
		for j := range nf {
			p.ScalerMean[j], p.ScalerScale[j] = num(), num()
		}
	}
	return p
}

func TestJSONRoundTripBitIdentical(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 40 {
		k := Kernel(i % 4)
		p := awkwardParams(r, k, 1+r.IntN(20), 1+r.IntN(16), i%3 != 0)
		switch i % 5 { // scaler halves on their own
		case 1:
			p.ScalerMean = nil
		case 2:
			p.ScalerScale = nil
		}
		m, err := New(p)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		var buf bytes.Buffer
		if err := WriteJSON(&buf, m); err != nil {
			t.Fatal(err)
		}
		back, err := LoadJSON(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("case %d: LoadJSON: %v\n%s", i, err, buf.Bytes())
		}
		if diff := cmp.Diff(p, back.Params(), bitsEqual); diff != "" {
			t.Errorf("case %d: Params after round trip (-want +got):\n%s", i, diff)
		}
	}
}

// TestWriteJSONGolden pins the exact text WriteJSON produces.
func TestWriteJSONGolden(t *testing.T) {
	m, err := New(Params{Kernel: RBF, Gamma: 0.1, Degree: 3, Intercept: -0.25,
		SupportVectors: [][]float64{{0.1, -2}, {1e-7, 1e21}}, DualCoef: []float64{0.5, 1.0 / 3},
		ScalerMean: []float64{10.5, math.Copysign(0, -1)}, ScalerScale: []float64{2, 0}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, m); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "json", "rbf_scaled.json")
	if updating() {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), buf.String()); diff != "" {
		t.Errorf("WriteJSON (-want +got):\n%s", diff)
	}
}

// TestLoadJSONFiles loads the hand-written models in testdata/json.
func TestLoadJSONFiles(t *testing.T) {
	tests := []struct {
		file string
		x    []float64
		want float64
	}{
		// 0.5*exp(-0.1*((0-0.1)^2+(-5.25-(-2))^2)) + (1/3)*exp(-0.1*(...)) - 0.25, z = ((x-10.5)/2, x2/1)
		{"rbf_scaled.json", []float64{10.7, 0}, 0.5*math.Exp(-0.1*(0.1-0.1)*(0.1-0.1)-0.1*4) + 1.0/3*math.Exp(-0.1*((0.1-1e-7)*(0.1-1e-7)+1e42)) - 0.25},
		{"linear.json", []float64{1, 2, 3}, 2*(1*0.5+2*-1+3*0.25) + 0.125},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", "json", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			m, err := LoadJSON(f)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Decision(tt.x); math.Abs(got-tt.want) > 1e-15*math.Max(1, math.Abs(tt.want)) {
				t.Errorf("Decision(%v) = %v, want %v", tt.x, got, tt.want)
			}
		})
	}
}

func TestLoadJSONErrors(t *testing.T) {
	const ok = `"format":"batchscore-ocsvm","version":1,"kernel":"rbf","gamma":0.5,"coef0":0,"degree":3,"scaler":null,"dual_coef":[1],"intercept":0`
	tests := []struct {
		name, doc, want string
	}{
		{"empty", ``, "json model: EOF"},
		{"not an object", `[1,2]`, "json model: json: cannot unmarshal array into Go value of type svm.jsonModel"},
		{"NaN", `{` + ok + `,"support_vectors":[[NaN]]}`, "json model: invalid character 'N' looking for beginning of value"},
		{"Infinity", `{` + ok + `,"support_vectors":[[Infinity]]}`, "json model: invalid character 'I' looking for beginning of value"},
		{"out of range", `{` + ok + `,"support_vectors":[[1e400]]}`, "json model: json: cannot unmarshal number 1e400 into Go struct field jsonModel.support_vectors of type float64"},
		{"string number", `{` + ok + `,"support_vectors":[["1"]]}`, "json model: json: cannot unmarshal string into Go struct field jsonModel.support_vectors of type float64"},
		{"unknown member", `{` + ok + `,"support_vectors":[[1]],"nu":0.1}`, `json model: json: unknown field "nu"`},
		{"trailing data", `{` + ok + `,"support_vectors":[[1]]} {}`, "json model: data after the model object"},
		{"wrong format", `{"format":"sklearn","version":1}`, `json model: format "sklearn", want "batchscore-ocsvm"`},
		{"no format", `{"version":1}`, `json model: no "format" member`},
		{"no version", `{"format":"batchscore-ocsvm"}`, `json model: no "version" member`},
		{"version 2", `{"format":"batchscore-ocsvm","version":2}`, "json model: version 2 is not supported (this program reads version 1)"},
		{"no support vectors", `{` + ok + `}`, `json model: no "support_vectors" member`},
		{"no intercept", `{"format":"batchscore-ocsvm","version":1,"kernel":"rbf","gamma":0.5,"coef0":0,"degree":3,"support_vectors":[[1]],"dual_coef":[1]}`, `json model: no "intercept" member`},
		{"bad kernel", `{"format":"batchscore-ocsvm","version":1,"kernel":"laplace","gamma":0.5,"coef0":0,"degree":3,"support_vectors":[[1]],"dual_coef":[1],"intercept":0}`, `json model: svm: unknown kernel "laplace"`},
		{"ragged", `{"format":"batchscore-ocsvm","version":1,"kernel":"rbf","gamma":0.5,"coef0":0,"degree":3,"support_vectors":[[1,2],[1]],"dual_coef":[1,2],"intercept":0}`, "json model: svm: invalid model: support vector 1 has 1 features, want 2"},
		{"mismatch", `{"format":"batchscore-ocsvm","version":1,"kernel":"rbf","gamma":0.5,"coef0":0,"degree":3,"support_vectors":[[1],[2]],"dual_coef":[1],"intercept":0}`, "json model: svm: invalid model: 1 dual coefficients for 2 support vectors"},
		{"scaler length 2", `{"format":"batchscore-ocsvm","version":1,"kernel":"rbf","gamma":0.5,"coef0":0,"degree":3,"scaler":{"mean":[1,2],"scale":null},"support_vectors":[[1]],"dual_coef":[1],"intercept":0}`, "json model: svm: invalid model: scaler mean has 2 values for 1 features"},
		{"negative degree", `{"format":"batchscore-ocsvm","version":1,"kernel":"poly","gamma":0.5,"coef0":0,"degree":-1,"support_vectors":[[1]],"dual_coef":[1],"intercept":0}`, "json model: svm: invalid model: degree -1 is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := LoadJSON(strings.NewReader(tt.doc))
			if err == nil {
				t.Fatalf("got a model of %d features, want error %q", m.NFeatures(), tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}
