package svm

import (
	"encoding/json"
	"errors"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/bench/{generated,reference}.json with /usr/bin/python3 and scikit-learn")

// golden is one scikit-learn model with rows and sklearn's decisions, as
// testdata/bench/sklearn_peer.py writes it.
type golden struct {
	Name           string      `json:"name"`
	Kernel         string      `json:"kernel"`
	Gamma          float64     `json:"gamma"`
	Coef0          float64     `json:"coef0"`
	Degree         int         `json:"degree"`
	SupportVectors [][]float64 `json:"support_vectors"`
	DualCoef       []float64   `json:"dual_coef"`
	Intercept      float64     `json:"intercept"`
	ScalerMean     []float64   `json:"scaler_mean"`
	ScalerScale    []float64   `json:"scaler_scale"`
	Rows           [][]float64 `json:"rows"`
	Values         []float64   `json:"values"` // reference.json: one feature per row
	Decisions      []float64   `json:"decisions"`
	Predictions    []int       `json:"predictions"` // sklearn +1/-1 (generated) or 0/1 anomaly (reference)
}

func (g golden) params(t *testing.T) Params {
	t.Helper()
	k, err := ParseKernel(g.Kernel)
	if err != nil {
		t.Fatal(err)
	}
	return Params{Kernel: k, Gamma: g.Gamma, Coef0: g.Coef0, Degree: g.Degree, SupportVectors: g.SupportVectors,
		DualCoef: g.DualCoef, Intercept: g.Intercept, ScalerMean: g.ScalerMean, ScalerScale: g.ScalerScale}
}

func readGolden(t *testing.T, name string) []golden {
	t.Helper()
	if *update {
		regenerateGolden(t)
	}
	b, err := os.ReadFile(filepath.Join("testdata", "bench", name))
	if err != nil {
		t.Fatal(err)
	}
	var gs []golden
	if err := json.Unmarshal(b, &gs); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(gs) == 0 {
		t.Fatalf("%s holds no models", name)
	}
	return gs
}

var regenerated bool

func regenerateGolden(t *testing.T) {
	t.Helper()
	if regenerated {
		return
	}
	ref := os.Getenv("REFERENCE_DIR")
	if ref == "" {
		ref = filepath.Join("..", "reference") // internal/svm/testdata/reference, seen from testdata/bench
	}
	cmd := exec.CommandContext(t.Context(), "/usr/bin/python3", "sklearn_peer.py", "golden", "--dir", ".", "--reference", ref)
	cmd.Dir = filepath.Join("testdata", "bench")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("regenerate golden files: %v\n%s", err, out)
	}
	regenerated = true
}

// within reports whether got is within tol*max(1,|want|) of want.
func within(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

// checkAgainst scores rows with every kernel implementation and every entry
// point, and holds them to sklearn's decisions within tol.
func checkAgainst(t *testing.T, m *Model, rows [][]float64, want []float64, tol float64) (maxDiff float64) {
	t.Helper()
	nf := m.NFeatures()
	X := make([]float64, 0, len(rows)*nf)
	for _, r := range rows {
		X = append(X, r...)
	}
	for _, impl := range kernelsHere() {
		undo := setImpl(impl)
		batch := make([]float64, len(rows))
		m.DecisionBatch(batch, X)
		par := make([]float64, len(rows))
		m.DecisionBatchParallel(par, X, 3)
		for i, r := range rows {
			got := m.Decision(r)
			if batch[i] != got || par[i] != got {
				t.Errorf("%s row %d: Decision %v, DecisionBatch %v, DecisionBatchParallel %v: want identical", implNames[impl], i, got, batch[i], par[i])
			}
			if !within(got, want[i], tol) {
				t.Errorf("%s row %d %v: decision %.17g, sklearn %.17g (diff %.3g)", implNames[impl], i, r, got, want[i], got-want[i])
			}
			maxDiff = math.Max(maxDiff, math.Abs(got-want[i])/math.Max(1, math.Abs(want[i])))
		}
		undo()
	}
	return maxDiff
}

func TestGoldenReference(t *testing.T) {
	worst := 0.0
	for _, g := range readGolden(t, "reference.json") {
		t.Run(g.Name, func(t *testing.T) {
			m, err := New(g.params(t))
			if err != nil {
				t.Fatal(err)
			}
			rows := make([][]float64, len(g.Values))
			for i, v := range g.Values {
				rows[i] = []float64{v}
			}
			worst = math.Max(worst, checkAgainst(t, m, rows, g.Decisions, 1e-12))
			for i, r := range rows {
				anomaly := 0
				if IsAnomaly(m.Decision(r)) {
					anomaly = 1
				}
				if anomaly != g.Predictions[i] {
					t.Errorf("row %d (%v): prediction %d, want %d", i, r[0], anomaly, g.Predictions[i])
				}
			}
		})
	}
	t.Logf("max |go - sklearn| / max(1,|sklearn|) = %.3g", worst)
}

func TestGoldenGenerated(t *testing.T) {
	worst := map[string]float64{}
	for _, g := range readGolden(t, "generated.json") {
		t.Run(g.Name, func(t *testing.T) {
			m, err := New(g.params(t))
			if err != nil {
				t.Fatal(err)
			}
			d := checkAgainst(t, m, g.Rows, g.Decisions, 1e-9)
			worst[g.Kernel] = math.Max(worst[g.Kernel], d)
			for i, r := range g.Rows {
				want := g.Predictions[i] == -1
				if got := IsAnomaly(m.Decision(r)); got != want {
					t.Errorf("row %d: IsAnomaly %v, sklearn predict %d", i, got, g.Predictions[i])
				}
			}
		})
	}
	t.Logf("max relative difference from sklearn per kernel: %v", worst)
}

// TestFastMatchesExact compares the vectorised RBF path with the plain
// math.Exp loop on random models, far more rows than the golden files hold,
// including rows on top of support vectors and far away.
func TestFastMatchesExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, shape := range []struct{ nf, nsv int }{{1, 1}, {1, 7}, {2, 16}, {4, 100}, {4, 1000}, {16, 300}, {17, 33}, {40, 5}} {
		p := randomParams(rng, RBF, shape.nf, shape.nsv)
		m, err := New(p)
		if err != nil {
			t.Fatal(err)
		}
		X := randomRows(rng, p, 300)
		// A row equal to a support vector (distance exactly 0) and one far away.
		for j := range shape.nf {
			X[j] = p.SupportVectors[0][j]*p.ScalerScale[j] + p.ScalerMean[j]
			X[shape.nf+j] = 1e6
		}
		z := make([]float64, shape.nf)
		for _, impl := range kernelsHere() {
			undo := setImpl(impl)
			maxRel := 0.0
			for i := range 300 {
				x := X[i*shape.nf : (i+1)*shape.nf]
				m.standardize(z, x)
				want := m.decisionExact(z)
				got := m.Decision(x)
				// Error bound: a few ulp of each term, relative to the sum of
				// the absolute terms (which the partial sums never exceed).
				scale := math.Abs(p.Intercept) + 1
				for _, d := range p.DualCoef {
					scale += math.Abs(d)
				}
				rel := math.Abs(got-want) / scale
				maxRel = math.Max(maxRel, rel)
				if rel > 1e-14 {
					t.Errorf("nf=%d nsv=%d %s row %d: fast %.17g, exact %.17g", shape.nf, shape.nsv, implNames[impl], i, got, want)
				}
			}
			t.Logf("nf=%d nsv=%d %s: max |fast-exact|/sum|terms| = %.3g", shape.nf, shape.nsv, implNames[impl], maxRel)
			undo()
		}
	}
}

func TestDecisionByHand(t *testing.T) {
	sv := [][]float64{{1, 2}, {-1, 0.5}}
	base := Params{Gamma: 0.5, Coef0: 1, Degree: 3, SupportVectors: sv, DualCoef: []float64{0.7, 0.3}, Intercept: -0.25,
		ScalerMean: []float64{1, 2}, ScalerScale: []float64{2, 0}}
	x := []float64{3, 1} // z = ((3-1)/2, (1-2)/1) = (1, -1): scale 0 acts as 1
	z := []float64{1, -1}
	d0 := func(s []float64) float64 { return (z[0]-s[0])*(z[0]-s[0]) + (z[1]-s[1])*(z[1]-s[1]) }
	dot := func(s []float64) float64 { return z[0]*s[0] + z[1]*s[1] }
	tests := []struct {
		kernel Kernel
		k      func(s []float64) float64
	}{
		{RBF, func(s []float64) float64 { return math.Exp(-0.5 * d0(s)) }},
		{Linear, dot},
		{Poly, func(s []float64) float64 { return math.Pow(0.5*dot(s)+1, 3) }},
		{Sigmoid, func(s []float64) float64 { return math.Tanh(0.5*dot(s) + 1) }},
	}
	for _, tt := range tests {
		t.Run(tt.kernel.String(), func(t *testing.T) {
			p := base
			p.Kernel = tt.kernel
			m, err := New(p)
			if err != nil {
				t.Fatal(err)
			}
			want := 0.7*tt.k(sv[0]) + 0.3*tt.k(sv[1]) - 0.25
			if got := m.Decision(x); !within(got, want, 1e-15) {
				t.Errorf("Decision = %.17g, want %.17g", got, want)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	good := func() Params {
		return Params{Kernel: RBF, Gamma: 0.1, SupportVectors: [][]float64{{1, 2}, {3, 4}}, DualCoef: []float64{0.5, 0.5},
			Intercept: -0.1, ScalerMean: []float64{0, 0}, ScalerScale: []float64{1, 1}}
	}
	if _, err := New(good()); err != nil {
		t.Fatalf("New(good) = %v", err)
	}
	nan := math.NaN()
	tests := []struct {
		name   string
		change func(p *Params)
		want   string
	}{
		{"unknown kernel", func(p *Params) { p.Kernel = 9 }, "unknown kernel"},
		{"no support vectors", func(p *Params) { p.SupportVectors, p.DualCoef = nil, nil }, "no support vectors"},
		{"no features", func(p *Params) { p.SupportVectors = [][]float64{{}, {}} }, "no features"},
		{"ragged", func(p *Params) { p.SupportVectors[1] = []float64{1} }, "support vector 1 has 1 features"},
		{"nan sv", func(p *Params) { p.SupportVectors[1][0] = nan }, "support vector 1 feature 0"},
		{"inf sv", func(p *Params) { p.SupportVectors[0][1] = math.Inf(1) }, "support vector 0 feature 1"},
		{"dual length", func(p *Params) { p.DualCoef = []float64{1} }, "1 dual coefficients for 2"},
		{"nan dual", func(p *Params) { p.DualCoef[1] = nan }, "dual coefficient 1"},
		{"zero gamma", func(p *Params) { p.Gamma = 0 }, "gamma 0 must be > 0"},
		{"negative gamma poly", func(p *Params) { p.Kernel, p.Gamma = Poly, -1 }, "must be > 0 for the poly"},
		{"nan gamma linear", func(p *Params) { p.Kernel, p.Gamma = Linear, nan }, "gamma NaN is not finite"},
		{"inf coef0", func(p *Params) { p.Coef0 = math.Inf(-1) }, "coef0"},
		{"negative degree", func(p *Params) { p.Degree = -1 }, "degree -1"},
		{"nan intercept", func(p *Params) { p.Intercept = nan }, "intercept"},
		{"mean length", func(p *Params) { p.ScalerMean = []float64{0} }, "scaler mean has 1 values for 2"},
		{"empty scale", func(p *Params) { p.ScalerScale = []float64{} }, "scaler scale has 0 values"},
		{"nan scale", func(p *Params) { p.ScalerScale[1] = nan }, "scaler scale feature 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := good()
			tt.change(&p)
			m, err := New(p)
			if err == nil {
				t.Fatalf("New = %v, nil; want error %q", m, tt.want)
			}
			if !errors.Is(err, ErrInvalidModel) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error = %q, want ErrInvalidModel containing %q", err, tt.want)
			}
		})
	}
	// A linear kernel needs no positive gamma.
	p := good()
	p.Kernel, p.Gamma = Linear, 0
	if _, err := New(p); err != nil {
		t.Errorf("linear with gamma 0: %v", err)
	}
}

func TestParamsRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, k := range []Kernel{RBF, Linear, Poly, Sigmoid} {
		p := randomParams(rng, k, 3, 21)
		variants := []Params{p, p, p}
		variants[1].ScalerMean = nil
		variants[2].ScalerScale, variants[2].ScalerMean = nil, nil
		for _, want := range variants {
			want.ScalerScale = append([]float64(nil), want.ScalerScale...)
			if len(want.ScalerScale) > 0 {
				want.ScalerScale[0] = 0 // kept as given, even though it acts as 1
			} else {
				want.ScalerScale = nil
			}
			m, err := New(want)
			if err != nil {
				t.Fatal(err)
			}
			got := m.Params()
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%v: Params() (-want +got):\n%s", k, diff)
			}
			// A deep copy: changing it, or what New got, changes nothing.
			got.SupportVectors[0][0] = 42
			want.SupportVectors[0][0] += 1
			if m.Params().SupportVectors[0][0] == 42 || m.Params().SupportVectors[0][0] == want.SupportVectors[0][0] {
				t.Errorf("%v: model shares memory with Params", k)
			}
			want.SupportVectors[0][0] -= 1
			if m.NFeatures() != 3 || m.NSupport() != 21 || m.Kernel() != k {
				t.Errorf("NFeatures, NSupport, Kernel = %d, %d, %v", m.NFeatures(), m.NSupport(), m.Kernel())
			}
		}
	}
}

func TestKernelNames(t *testing.T) {
	for _, k := range []Kernel{RBF, Linear, Poly, Sigmoid} {
		got, err := ParseKernel(" " + strings.ToUpper(k.String()) + " ")
		if err != nil || got != k {
			t.Errorf("ParseKernel(%q) = %v, %v", k.String(), got, err)
		}
	}
	if _, err := ParseKernel("precomputed"); err == nil {
		t.Error("ParseKernel(precomputed) succeeded")
	}
	if got := Kernel(7).String(); got != "Kernel(7)" {
		t.Errorf("Kernel(7).String() = %q", got)
	}
}

func TestIsAnomaly(t *testing.T) {
	tests := []struct {
		d    float64
		want bool
	}{{1e-300, false}, {0.5, false}, {0, true}, {math.Copysign(0, -1), true}, {-1e-12, true}, {math.NaN(), true}}
	for _, tt := range tests {
		if got := IsAnomaly(tt.d); got != tt.want {
			t.Errorf("IsAnomaly(%v) = %v, want %v", tt.d, got, tt.want)
		}
	}
}

// FuzzModel builds models from fuzzed shapes and numbers: New must never
// panic, and an accepted RBF model must score every row with every kernel
// implementation close to the plain math.Exp loop, batch equal to Decision.
func FuzzModel(f *testing.F) {
	f.Add(uint8(4), uint8(30), uint64(1), 0.25, 1.0, -3.0, true)
	f.Add(uint8(1), uint8(1), uint64(2), 1e-300, 1e300, 0.0, false)
	f.Add(uint8(17), uint8(9), uint64(3), 1e6, 1e-3, 1e3, true)
	f.Fuzz(func(t *testing.T, nf, nsv uint8, seed uint64, gamma, spread, intercept float64, scaler bool) {
		rng := rand.New(rand.NewPCG(seed, 99))
		p := Params{Kernel: RBF, Gamma: gamma, Intercept: intercept, DualCoef: make([]float64, nsv)}
		for i := range int(nsv) {
			sv := make([]float64, nf)
			for j := range sv {
				sv[j] = rng.NormFloat64() * spread
			}
			p.SupportVectors = append(p.SupportVectors, sv)
			p.DualCoef[i] = rng.Float64()
		}
		if scaler {
			p.ScalerMean, p.ScalerScale = make([]float64, nf), make([]float64, nf)
			for j := range int(nf) {
				p.ScalerMean[j] = rng.NormFloat64() * spread
				p.ScalerScale[j] = float64(rng.IntN(3)) * spread // 0 acts as 1
			}
		}
		m, err := New(p)
		if err != nil {
			return
		}
		const rows = 9
		X := make([]float64, rows*int(nf))
		for i := range X {
			X[i] = rng.NormFloat64() * spread * 2
		}
		scale := math.Abs(p.Intercept)
		for _, d := range p.DualCoef {
			scale += d
		}
		z := make([]float64, nf)
		for _, impl := range kernelsHere() {
			undo := setImpl(impl)
			batch := make([]float64, rows)
			m.DecisionBatch(batch, X)
			for i := range rows {
				x := X[i*int(nf) : (i+1)*int(nf)]
				got := m.Decision(x)
				m.standardize(z, x)
				want := m.decisionExact(z)
				if math.IsNaN(got) != math.IsNaN(want) || math.Abs(got-want) > 1e-14*scale+1e-300 {
					t.Errorf("%s row %d: fast %.17g, exact %.17g", implNames[impl], i, got, want)
				}
				if batch[i] != got && !(math.IsNaN(got) && math.IsNaN(batch[i])) {
					t.Errorf("%s row %d: batch %v, Decision %v", implNames[impl], i, batch[i], got)
				}
			}
			undo()
		}
	})
}
