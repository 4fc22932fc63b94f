package svm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// expByKernel evaluates the exponential through the RBF kernel that scoring
// uses (assembly or pure Go): with z = 0, every support vector 1 and
// negGamma = x, each distance is 1 and each argument exactly x; only the first
// support vector has weight, so the sum is exp(x) itself.
func expByKernel(x float64) float64 {
	const n = 2 * svLanes
	sv := make([]float64, n)
	for i := range sv {
		sv[i] = 1
	}
	dual := make([]float64, n)
	dual[0] = 1
	b := newSVBlocks(sv, dual, n, 1)
	return b.rbfSum([]float64{0}, make([]float64, svLanes), x)
}

// implNames names the kernel implementations; kernelsHere lists those this
// machine runs, so that every test covers each of them.
var implNames = map[int]string{0: "go", 1: "avx2", 2: "avx512"}

func TestKernelImplementation(t *testing.T) {
	for _, impl := range kernelsHere() {
		undo := setImpl(impl)
		if got := KernelImplementation(); got != implNames[impl] {
			t.Errorf("KernelImplementation() = %q, want %q", got, implNames[impl])
		}
		undo()
	}
}

func kernelsHere() []int {
	var impls []int
	for i := 0; i <= bestImpl; i++ {
		impls = append(impls, i)
	}
	return impls
}

// setImpl selects a kernel implementation and returns the undo.
func setImpl(impl int) func() {
	old := kernelImpl
	kernelImpl = impl
	return func() { kernelImpl = old }
}

// expImpls are the exponentials to prove: the scalar Go one and the one
// inside each kernel this machine can run.
func expImpls() map[string]func(float64) float64 {
	impls := map[string]func(float64) float64{"expPoly": expPoly}
	for _, impl := range kernelsHere() {
		impls["kernel-"+implNames[impl]] = func(x float64) float64 {
			defer setImpl(impl)()
			return expByKernel(x)
		}
	}
	return impls
}

// ulpDiff is |a-b| in units in the last place of b.
func ulpDiff(a, b float64) float64 {
	ulp := math.Nextafter(math.Abs(b), math.Inf(1)) - math.Abs(b)
	return math.Abs(a-b) / ulp
}

func TestExpAgainstMathExp(t *testing.T) {
	// Arguments: a dense sweep of the whole range used (RBF arguments are
	// <= 0), random ones, and the edges.
	var args []float64
	for x := -750.0; x <= 710; x += 0.0137 {
		args = append(args, x)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		args = append(args, -rng.ExpFloat64()*50) // mostly small |x|, as in scoring
		args = append(args, -rng.Float64()*745)
		args = append(args, -math.Ldexp(rng.Float64(), -rng.IntN(1074))) // tiny negative
	}
	args = append(args, 0, math.Copysign(0, -1), -5e-324, -1e-300, -1e-17, -1e-9, 1e-17,
		expMin, math.Nextafter(expMin, 0), math.Nextafter(expMin, -1000), -708.3964185322641,
		-745.1332191019411, -745.2, -800, -1e300, -math.MaxFloat64, 709, expMax,
		-0.5*math.Ln2, 0.5*math.Ln2, -math.Ln2, -1022*math.Ln2)
	for name, exp := range expImpls() {
		t.Run(name, func(t *testing.T) {
			maxULP, worst := 0.0, 0.0
			for _, x := range args {
				got, want := exp(x), math.Exp(x)
				if x < expMin {
					// Flushed to zero.
					if got != 0 || want >= 1.6e-308 {
						t.Fatalf("exp(%v) = %v, want 0 (math.Exp %v)", x, got, want)
					}
					continue
				}
				if u := ulpDiff(got, want); u > maxULP {
					maxULP, worst = u, x
				}
			}
			t.Logf("%d arguments, max difference from math.Exp %.2f ulp at %v", len(args), maxULP, worst)
			// math.Exp itself is within 1 ulp of the true value.
			if maxULP > 3 {
				t.Errorf("max difference from math.Exp = %.2f ulp at x = %v, want <= 3", maxULP, worst)
			}
			for _, x := range []float64{math.Inf(-1), math.NaN()} {
				got, want := exp(x), math.Exp(x)
				if !(got == want || math.IsNaN(got) && math.IsNaN(want)) {
					t.Errorf("exp(%v) = %v, want %v", x, got, want)
				}
			}
			if got := exp(0); got != 1 {
				t.Errorf("exp(0) = %v, want exactly 1", got)
			}
		})
	}
}
