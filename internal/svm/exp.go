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

// expCoef are 1/k! for k = 0..13.
var expCoef = [14]float64{
	1, 1, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320,
	1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800,
}

// expSlice replaces every x[i] (<= expMax) by exp(x[i]) as described above.
func expSlice(x []float64) {
	for i, v := range x {
		x[i] = expPoly(v)
	}
}

// expPoly is one lane of expSlice.
func expPoly(x float64) float64 {
	if !(x >= expMin) {
		if x != x { // NaN
			return x
		}
		return 0
	}
	t := x*expLog2e + expShifter
	n := t - expShifter
	r := x - n*expLn2Hi
	r -= n * expLn2Lo
	p := expCoef[13]
	p = p*r + expCoef[12]
	p = p*r + expCoef[11]
	p = p*r + expCoef[10]
	p = p*r + expCoef[9]
	p = p*r + expCoef[8]
	p = p*r + expCoef[7]
	p = p*r + expCoef[6]
	p = p*r + expCoef[5]
	p = p*r + expCoef[4]
	p = p*r + expCoef[3]
	p = p*r + expCoef[2]
	p = p*r + expCoef[1]
	p = p*r + expCoef[0]
	// The low mantissa bits of t hold n + 2^51; adding the exponent bias and
	// shifting drops everything but n + 1023 into the exponent field.
	scale := math.Float64frombits((math.Float64bits(t) + 1023) << 52)
	return p * scale
}
