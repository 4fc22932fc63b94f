package svm

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// splitMix is the splitmix64 generator of testdata/train/make_expected.py.
type splitMix uint64

func (s *splitMix) uniform() float64 {
	*s += 0x9E3779B97F4A7C15
	z := uint64(*s)
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	z ^= z >> 31
	return float64(z>>11) * (1.0 / 9007199254740992.0)
}

// genRows is make_expected.py's gen_rows, operation for operation, so that
// both produce the same float64 values: two clusters, feature j spread
// 1+0.2j, 3 % of the rows stretched 4x.
func genRows(seed uint64, n, nf int) [][]float64 {
	r := splitMix(seed)
	rows := make([][]float64, n)
	for i := range rows {
		far := r.uniform() < 0.3
		stretch := r.uniform() < 0.03
		row := make([]float64, nf)
		for j := range row {
			g := 0.0
			for range 12 {
				g += r.uniform()
			}
			g -= 6.0
			c := 0.0
			if far {
				c = 3.0
			}
			v := float64(c+float64(0.5*float64(j))) + float64((1.0+float64(0.2*float64(j)))*g)
			if stretch {
				v *= 4.0
			}
			row[j] = v
		}
		rows[i] = row
	}
	return rows
}

// trainCase is one testdata/train/NAME.json (see make_expected.py).
type trainCase struct {
	Rows, Features int
	Seed           uint64
	HeldOut        int `json:"held_out"`
	Kernel         string
	Nu             float64
	Gamma          string
	Coef0          float64
	Degree         int
	Scale          bool
	Check          float64
	Sklearn        struct {
		ScalerMean  []float64 `json:"scaler_mean"`
		ScalerScale []float64 `json:"scaler_scale"`
		Gamma       float64
		Support     []int
		DualCoef    []float64 `json:"dual_coef"`
		Intercept   float64
		Decision    []float64
	}
	Libsvm *struct {
		Support []int
		Alpha   []float64
		Rho     float64
	}
}

func loadTrainCases(t *testing.T) map[string]trainCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "train", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/train cases: %v", err)
	}
	cases := map[string]trainCase{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c trainCase
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		cases[strings.TrimSuffix(filepath.Base(f), ".json")] = c
	}
	return cases
}

// relDiff is |got-want| / |want| (|got-want| when want is 0).
func relDiff(got, want float64) float64 {
	d := math.Abs(got - want)
	if want != 0 {
		d /= math.Abs(want)
	}
	return d
}

const agreeTol = 1e-6

// agreement compares a fit with an expected one: same support, alphas and
// rho within agreeTol relative. It returns the largest relative differences.
func agreement(t *testing.T, who string, r *TrainResult, support []int, alpha []float64, rho float64) (maxAlpha, rhoDiff float64) {
	t.Helper()
	if !slices.Equal(r.Support, support) {
		t.Errorf("%s: support vectors differ: %d here, %d there (first here %v, there %v)",
			who, len(r.Support), len(support), head(r.Support), head(support))
		return math.NaN(), math.NaN()
	}
	for i, a := range r.Params.DualCoef {
		maxAlpha = max(maxAlpha, relDiff(a, math.Abs(alpha[i])))
	}
	rhoDiff = relDiff(r.Rho, rho)
	if maxAlpha > agreeTol || rhoDiff > agreeTol {
		t.Errorf("%s: alpha rel diff %.3g, rho %v vs %v (rel %.3g), want <= %g", who, maxAlpha, r.Rho, rho, rhoDiff, agreeTol)
	}
	return maxAlpha, rhoDiff
}

func head(v []int) []int { return v[:min(len(v), 5)] }

// TestTrainOneClassAgrees fits every case of testdata/train and checks it
// against svm-train's and scikit-learn's fits of the same rows: the same
// support vectors, alphas and rho within 1e-6 relative, and decision values
// on the held-out rows within 1e-6 of scikit-learn's decision_function.
func TestTrainOneClassAgrees(t *testing.T) {
	cases := loadTrainCases(t)
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range cases {
			if !yield(k) {
				return
			}
		}
	})
	for _, name := range names {
		c := cases[name]
		t.Run(name, func(t *testing.T) {
			if testing.Short() && c.Rows > 5000 {
				t.Skip("large case skipped in -short mode")
			}
			rows := genRows(c.Seed, c.Rows+c.HeldOut, c.Features)
			sum := 0.0
			for _, r := range rows {
				for _, v := range r {
					sum += v
				}
			}
			if sum != c.Check {
				t.Fatalf("generated rows sum to %v, make_expected.py's to %v: the generators differ", sum, c.Check)
			}
			x, held := rows[:c.Rows], rows[c.Rows:]
			k, err := ParseKernel(c.Kernel)
			if err != nil {
				t.Fatal(err)
			}
			o := FitOptions{
				TrainParams: TrainParams{Kernel: k, Nu: c.Nu, Coef0: c.Coef0, Degree: c.Degree},
				Gamma:       c.Gamma, Scale: c.Scale,
			}
			m, r, err := Fit(x, o)
			if err != nil {
				t.Fatal(err)
			}
			p := m.Params()
			if c.Scale {
				for j := range c.Features {
					if d := relDiff(p.ScalerMean[j], c.Sklearn.ScalerMean[j]); d > 1e-14 {
						t.Errorf("scaler mean %d: %v, scikit-learn %v", j, p.ScalerMean[j], c.Sklearn.ScalerMean[j])
					}
					if d := relDiff(p.ScalerScale[j], c.Sklearn.ScalerScale[j]); d > 1e-14 {
						t.Errorf("scaler scale %d: %v, scikit-learn %v", j, p.ScalerScale[j], c.Sklearn.ScalerScale[j])
					}
				}
			}
			if d := relDiff(p.Gamma, c.Sklearn.Gamma); d > 1e-14 {
				t.Errorf("gamma %v, scikit-learn %v", p.Gamma, c.Sklearn.Gamma)
			}
			sa, sr := agreement(t, "scikit-learn", r, c.Sklearn.Support, c.Sklearn.DualCoef, -c.Sklearn.Intercept)
			maxDec := 0.0
			for i, row := range held {
				got, want := m.Decision(row), c.Sklearn.Decision[i]
				d := math.Abs(got - want)
				maxDec = max(maxDec, d)
				if d > agreeTol {
					t.Errorf("held-out row %d: decision %v, scikit-learn %v", i, got, want)
				}
			}
			msg := fmt.Sprintf("%d rows x %d, %d SVs, %d iterations; scikit-learn: alpha %.2g, rho %.2g, held-out decision %.2g (abs)",
				c.Rows, c.Features, len(r.Support), r.Iterations, sa, sr, maxDec)
			if c.Libsvm != nil {
				// svm-train read nu as a float and starts from its own point:
				// fit again if either changes the problem.
				lr := r
				nu32 := float64(float32(c.Nu))
				if !slices.Equal(startAlpha(c.Rows, nu32, InitLibSVM), startAlpha(c.Rows, c.Nu, InitScikitLearn)) {
					p := o.TrainParams
					p.Nu, p.Init, p.Gamma = nu32, InitLibSVM, r.Params.Gamma
					if lr, err = TrainOneClass(x, p); err != nil {
						t.Fatal(err)
					}
					msg += fmt.Sprintf("; libsvm start and nu %v: %d SVs", nu32, len(lr.Support))
				}
				la, lrho := agreement(t, "svm-train", lr, c.Libsvm.Support, c.Libsvm.Alpha, c.Libsvm.Rho)
				msg += fmt.Sprintf("; svm-train: alpha %.2g, rho %.2g", la, lrho)
			}
			t.Log(msg)
		})
	}
}

// TestTrainOneClassSettings checks that the settings that must not change
// the solution (workers, cache size) do not, that shrinking off reaches the
// same support, and that every kernel and the tolerance take effect.
func TestTrainOneClassSettings(t *testing.T) {
	// 3,000 rows x 8 features: long columns are split between goroutines
	// (minParallelWork).
	x := genRows(99, 3000, 8)
	base := TrainParams{Kernel: RBF, Gamma: 0.0625, Nu: 0.125, Workers: 1}
	want, err := TrainOneClass(x, base)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		edit  func(*TrainParams)
		exact bool
	}{
		{"two workers", func(p *TrainParams) { p.Workers = 2 }, true},
		{"tiny cache", func(p *TrainParams) { p.CacheBytes = 1 }, true},
		{"no shrinking", func(p *TrainParams) { p.NoShrinking = true }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := base
			tc.edit(&p)
			got, err := TrainOneClass(x, p)
			if err != nil {
				t.Fatal(err)
			}
			if tc.exact {
				if got.Rho != want.Rho || !slices.Equal(got.Params.DualCoef, want.Params.DualCoef) || got.Iterations != want.Iterations {
					t.Errorf("rho %v (want %v), %d iterations (want %d): not the same fit", got.Rho, want.Rho, got.Iterations, want.Iterations)
				}
				return
			}
			if !slices.Equal(got.Support, want.Support) || relDiff(got.Rho, want.Rho) > 1e-3 {
				t.Errorf("support %d (want %d), rho %v (want %v)", len(got.Support), len(want.Support), got.Rho, want.Rho)
			}
		})
	}
	loose := base
	loose.Tol = 0.5
	r, err := TrainOneClass(x, loose)
	if err != nil {
		t.Fatal(err)
	}
	if r.Iterations >= want.Iterations {
		t.Errorf("tolerance 0.5 took %d iterations, 1e-3 took %d", r.Iterations, want.Iterations)
	}
	// Alphas always sum to nu*l and lie in [0, 1].
	sum := 0.0
	for _, a := range want.Params.DualCoef {
		if a < 0 || a > 1 {
			t.Errorf("alpha %v outside [0, 1]", a)
		}
		sum += a
	}
	if math.Abs(sum-0.125*3000) > 1e-9 {
		t.Errorf("alphas sum to %v, want nu*l = %v", sum, 0.125*3000)
	}
}

func TestTrainOneClassErrors(t *testing.T) {
	good := [][]float64{{1, 2}, {3, 4}}
	for _, tc := range []struct {
		name string
		x    [][]float64
		p    TrainParams
		want string
	}{
		{"no rows", nil, TrainParams{Nu: 0.5, Gamma: 1}, "no rows"},
		{"no features", [][]float64{{}}, TrainParams{Nu: 0.5, Gamma: 1}, "no features"},
		{"ragged", [][]float64{{1, 2}, {3}}, TrainParams{Nu: 0.5, Gamma: 1}, "row 1 has 1 features, row 0 has 2"},
		{"nan", [][]float64{{1, math.NaN()}}, TrainParams{Nu: 0.5, Gamma: 1}, "row 0 feature 1 is NaN"},
		{"nu 0", good, TrainParams{Nu: 0, Gamma: 1}, "nu 0 must be in (0, 1]"},
		{"nu above 1", good, TrainParams{Nu: 1.5, Gamma: 1}, "nu 1.5 must be in (0, 1]"},
		{"gamma 0", good, TrainParams{Nu: 0.5}, "gamma 0 must be finite and > 0 for the rbf kernel"},
		{"negative degree", good, TrainParams{Kernel: Poly, Nu: 0.5, Gamma: 1, Degree: -1}, "degree -1 is negative"},
		{"negative tol", good, TrainParams{Nu: 0.5, Gamma: 1, Tol: -1}, "tolerance -1 must be finite and >= 0"},
		{"unknown start", good, TrainParams{Nu: 0.5, Gamma: 1, Init: 7}, "unknown starting point 7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := TrainOneClass(tc.x, tc.p)
			if err == nil || !errors.Is(err, ErrInvalidTraining) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrInvalidTraining with %q", err, tc.want)
			}
		})
	}
	for _, s := range []string{"", "zero", "0", "-1", "inf", "NaN"} {
		if _, err := ParseGamma(s, good); err == nil {
			t.Errorf("ParseGamma(%q) accepted", s)
		}
	}
	if g, err := ParseGamma(" Auto ", good); err != nil || g != 0.5 {
		t.Errorf("ParseGamma(auto) = %v, %v; want 0.5", g, err)
	}
	if g, err := ParseGamma("0.25", good); err != nil || g != 0.25 {
		t.Errorf("ParseGamma(0.25) = %v, %v", g, err)
	}
}

// TestFitScalerConstantFeature: a constant feature gets scale 1, as
// scikit-learn's StandardScaler gives it.
func TestFitScalerConstantFeature(t *testing.T) {
	mean, scale := FitScaler([][]float64{{5, 1}, {5, 2}, {5, 3}})
	if mean[0] != 5 || scale[0] != 1 || mean[1] != 2 || math.Abs(scale[1]-math.Sqrt(2.0/3)) > 1e-15 {
		t.Fatalf("mean %v scale %v", mean, scale)
	}
}

// BenchmarkTrainOneClass fits 10,000 generated rows (rbf, nu 0.1, gamma
// 'scale') on one goroutine and on all cores. batchscore bench-train puts
// such figures beside scikit-learn's.
func BenchmarkTrainOneClass(b *testing.B) {
	for _, nf := range []int{1, 4, 16} {
		x := genRows(7, 10000, nf)
		for _, workers := range []int{1, 0} {
			b.Run(fmt.Sprintf("rows=10000/features=%d/workers=%d", nf, workers), func(b *testing.B) {
				p := TrainParams{Kernel: RBF, Gamma: GammaScale(x), Nu: 0.1, Workers: workers}
				for b.Loop() {
					if _, err := TrainOneClass(x, p); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
