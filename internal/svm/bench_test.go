package svm

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// randomParams returns a model shaped like a fitted one-class SVM: support
// vectors and rows from the same standard normal cloud, positive weights, an
// intercept that puts the boundary inside the cloud, and a scaler.
func randomParams(rng *rand.Rand, k Kernel, nf, nsv int) Params {
	p := Params{
		Kernel:      k,
		Gamma:       1 / float64(nf),
		Coef0:       0.5,
		Degree:      3,
		DualCoef:    make([]float64, nsv),
		ScalerMean:  make([]float64, nf),
		ScalerScale: make([]float64, nf),
	}
	for j := range nf {
		p.ScalerMean[j] = rng.NormFloat64() * 10
		p.ScalerScale[j] = 0.5 + rng.Float64()*5
	}
	sum := 0.0
	for i := range nsv {
		sv := make([]float64, nf)
		for j := range sv {
			sv[j] = rng.NormFloat64()
		}
		p.SupportVectors = append(p.SupportVectors, sv)
		p.DualCoef[i] = rng.Float64()
		sum += p.DualCoef[i]
	}
	p.Intercept = -0.3 * sum
	return p
}

// randomRows returns n rows in the unscaled space of p.
func randomRows(rng *rand.Rand, p Params, n int) []float64 {
	nf := len(p.SupportVectors[0])
	X := make([]float64, n*nf)
	for i := range X {
		j := i % nf
		X[i] = p.ScalerMean[j] + 1.3*rng.NormFloat64()*p.ScalerScale[j]
	}
	return X
}

// BenchmarkDecisionBatch reports rows/s and ns per kernel evaluation of the
// RBF kernel at 1, 4 and 16 features and about 100 and 1,000 support vectors,
// on one core (DecisionBatch), on all cores (DecisionBatchParallel), with
// each slower kernel this machine can run, and as a straightforward loop with
// math.Exp (the baseline).
func BenchmarkDecisionBatch(b *testing.B) {
	const rows = 4096
	for _, nf := range []int{1, 4, 16} {
		for _, nsv := range []int{100, 1000} {
			rng := rand.New(rand.NewPCG(uint64(nf), uint64(nsv)))
			p := randomParams(rng, RBF, nf, nsv)
			m, err := New(p)
			if err != nil {
				b.Fatal(err)
			}
			X := randomRows(rng, p, rows)
			dst := make([]float64, rows)
			modes := []struct {
				name string
				run  func()
				impl int
			}{
				{"1core", func() { m.DecisionBatch(dst, X) }, bestImpl},
				{fmt.Sprintf("parallel%d", runtime.GOMAXPROCS(0)), func() { m.DecisionBatchParallel(dst, X, 0) }, bestImpl},
			}
			// The straightforward loop: one support vector after another, math.Exp.
			naive := func() {
				z := make([]float64, nf)
				for i := range dst {
					m.standardize(z, X[i*nf:(i+1)*nf])
					dst[i] = m.decisionExact(z)
				}
			}
			modes = append(modes, struct {
				name string
				run  func()
				impl int
			}{"1core-naive-math.Exp", naive, bestImpl})
			for impl := range bestImpl {
				modes = append(modes, struct {
					name string
					run  func()
					impl int
				}{"1core-" + implNames[impl], func() { m.DecisionBatch(dst, X) }, impl})
			}
			for _, mode := range modes {
				b.Run(fmt.Sprintf("nf=%d/sv=%d/%s", nf, nsv, mode.name), func(b *testing.B) {
					defer setImpl(mode.impl)()
					for b.Loop() {
						mode.run()
					}
					sec := b.Elapsed().Seconds()
					b.ReportMetric(float64(b.N*rows)/sec, "rows/s")
					b.ReportMetric(sec*1e9/float64(b.N*rows*nsv), "ns/eval")
				})
			}
		}
	}
}

// BenchmarkDecision is the one-row call, as a server scoring single readings
// would make it.
func BenchmarkDecision(b *testing.B) {
	rng := rand.New(rand.NewPCG(4, 1000))
	p := randomParams(rng, RBF, 4, 1000)
	m, err := New(p)
	if err != nil {
		b.Fatal(err)
	}
	x := randomRows(rng, p, 1)
	for b.Loop() {
		m.Decision(x)
	}
}
