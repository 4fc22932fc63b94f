package svm

import "math"

// This file holds the exponential used by the RBF kernel: the same algorithm
// as the AVX2 assembly in kernel_amd64.s, in plain Go.
//
// exp(x) = 2^n * e^r, with n = round(x / ln2) and r = x - n*ln2 in
// [-ln2/2, ln2/2]. ln2 is split Cody-Waite style into ln2Hi (whose low 20
// mantissa bits are zero, so n*ln2Hi is exact for |n| < 2^11) and ln2Lo.
// e^r is the Taylor polynomial of degree 13, whose truncation error,
// |r|^14/14! < 5e-18, is far below half an ulp; the result is within a few ulp
// of math.Exp (tested). For x down to expMin, n >= -1022, so 2^n is a normal
// number and the one multiplication p*2^n rounds even a subnormal result
// correctly; below expMin the result, under 1.6e-308, is flushed to 0.
// NaN gives NaN. The argument must not exceed expMax (RBF arguments are <= 0).

const (
	expLog2e   = math.Log2E
	expShifter = 0x1.8p52 // adding it rounds a double below 2^51 to an integer
	expLn2Hi   = 6.93147180369123816490e-01
	expLn2Lo   = 1.90821492927058770002e-10
	// expMin is the smallest argument handled (round(expMin*log2e) = -1022);
	// below it the result is flushed to 0.
	expMin = -708.74
	// expMax is the largest argument handled (the result is then below 2^1024).
	expMax = 709.78
)

// The polynomial's coefficients 1/k! (c0 = c1 = 1). The pairs
// (c_2k + c_2k+1 r) are combined by Horner's rule in r^2, as in the assembly.
const (
	expC2  = 1.0 / 2
	expC3  = 1.0 / 6
	expC4  = 1.0 / 24
	expC5  = 1.0 / 120
	expC6  = 1.0 / 720
	expC7  = 1.0 / 5040
	expC8  = 1.0 / 40320
	expC9  = 1.0 / 362880
	expC10 = 1.0 / 3628800
	expC11 = 1.0 / 39916800
	expC12 = 1.0 / 479001600
	expC13 = 1.0 / 6227020800
)

// expSlice replaces every x[i] (<= expMax) by exp(x[i]) as described above.
// The loop body is expPoly written out, so that it compiles to straight-line
// code.
func expSlice(x []float64) {
	for i, v := range x {
		if !(v >= expMin) {
			if v == v { // not NaN
				x[i] = 0
			}
			continue
		}
		t := v*expLog2e + expShifter
		n := t - expShifter
		r := v - n*expLn2Hi
		r -= n * expLn2Lo
		r2 := r * r
		p := (expC12 + expC13*r)
		p = p*r2 + (expC10 + expC11*r)
		p = p*r2 + (expC8 + expC9*r)
		p = p*r2 + (expC6 + expC7*r)
		p = p*r2 + (expC4 + expC5*r)
		p = p*r2 + (expC2 + expC3*r)
		p = p*r2 + (1 + r)
		x[i] = p * math.Float64frombits((math.Float64bits(t)+1023)<<52)
	}
}

// expPoly is exp(x) for one argument (see expSlice).
func expPoly(x float64) float64 {
	v := [1]float64{x}
	expSlice(v[:])
	return v[0]
}
