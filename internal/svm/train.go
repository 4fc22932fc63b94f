package svm

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
)

// TrainParams are the settings of a one-class SVM fit, as libsvm's
// svm-train -s 2 and scikit-learn's OneClassSVM take them.
type TrainParams struct {
	Kernel Kernel
	Gamma  float64 // > 0 unless Kernel is Linear; see GammaScale and GammaAuto
	Coef0  float64 // poly and sigmoid
	Degree int     // poly
	// Nu bounds the fraction of training rows outside the boundary from
	// above and the fraction of support vectors from below; 0 < Nu <= 1.
	Nu float64
	// Tol is the stopping tolerance on the KKT violation; 0 means 1e-3
	// (the default of svm-train and scikit-learn).
	Tol float64
	// CacheBytes bounds the kernel-column cache; 0 means 200 MiB
	// (scikit-learn's cache_size default).
	CacheBytes int64
	// NoShrinking turns libsvm's shrinking heuristic off (-h 0,
	// shrinking=False). It changes the path, not the solution.
	NoShrinking bool
	// MaxIter stops the solver after that many iterations; 0 means libsvm's
	// limit, max(10^7, 100*rows).
	MaxIter int
	// Init picks the starting point of the solver: scikit-learn's (the
	// default) or libsvm's. They differ only when nu*rows is not exact in
	// floating point, and then lead to fits that differ within the tolerance.
	Init Init
	// Workers is the number of goroutines that compute a kernel column;
	// 0 means runtime.GOMAXPROCS(0). The result does not depend on it.
	Workers int
}

// Init names the starting point of the solver (see TrainParams.Init).
type Init int

const (
	// InitScikitLearn starts as scikit-learn's OneClassSVM does: nu added
	// once per row, then handed out greedily (alpha_i = min(1, what is left)).
	InitScikitLearn Init = iota
	// InitLibSVM starts as svm-train -s 2 does: floor(nu*l) alphas at 1 and
	// nu*l - floor(nu*l) on the next.
	InitLibSVM
)

// TrainResult is a fitted one-class SVM.
type TrainResult struct {
	// Params is the decision function (no scaler): the support vectors, their
	// alphas as DualCoef and Intercept = -Rho.
	Params Params
	// Support holds the row index of each support vector, ascending.
	Support []int
	// Rho is libsvm's offset: decision = sum alpha_i K(x, sv_i) - Rho.
	Rho float64
	// Iterations is the number of SMO steps the solver took.
	Iterations int
}

// ErrInvalidTraining is wrapped by every error TrainOneClass returns for bad
// input or settings.
var ErrInvalidTraining = errors.New("svm: invalid training input")

// TrainOneClass fits a nu one-class SVM to the rows x (each row one sample,
// all of the same length) exactly as libsvm 3.24 does (svm-train -s 2,
// which scikit-learn's OneClassSVM wraps): SMO with second-order
// working-set selection, shrinking, a single-precision kernel cache, and
// libsvm's starting point and rho. Rows are used as given: scale them first
// (FitScaler) if the model is to carry a scaler.
func TrainOneClass(x [][]float64, p TrainParams) (*TrainResult, error) {
	if err := validateTraining(x, p); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidTraining, err)
	}
	tol := p.Tol
	if tol == 0 {
		tol = 1e-3
	}
	cache := p.CacheBytes
	if cache == 0 {
		cache = 200 << 20
	}
	workers := p.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	q := newOneClassQ(x, p.Kernel, p.Gamma, p.Coef0, p.Degree, cache, workers)
	alpha, rho, iter := solveOneClass(q, p.Nu, p.Init, tol, !p.NoShrinking, p.MaxIter)
	r := &TrainResult{Rho: rho, Iterations: iter}
	r.Params = Params{Kernel: p.Kernel, Gamma: p.Gamma, Coef0: p.Coef0, Degree: p.Degree, Intercept: -rho}
	for i, a := range alpha {
		if math.Abs(a) > 0 {
			r.Support = append(r.Support, i)
			r.Params.SupportVectors = append(r.Params.SupportVectors, cloneFloats(x[i]))
			r.Params.DualCoef = append(r.Params.DualCoef, a)
		}
	}
	return r, nil
}

func validateTraining(x [][]float64, p TrainParams) error {
	if len(x) == 0 {
		return errors.New("no rows")
	}
	nf := len(x[0])
	if nf == 0 {
		return errors.New("rows have no features")
	}
	for i, r := range x {
		if len(r) != nf {
			return fmt.Errorf("row %d has %d features, row 0 has %d", i, len(r), nf)
		}
		for j, v := range r {
			if !finite(v) {
				return fmt.Errorf("row %d feature %d is %v", i, j, v)
			}
		}
	}
	if !(p.Nu > 0 && p.Nu <= 1) {
		return fmt.Errorf("nu %v must be in (0, 1]", p.Nu)
	}
	if p.Kernel < 0 || int(p.Kernel) >= len(kernelNames) {
		return fmt.Errorf("unknown kernel %d", int(p.Kernel))
	}
	if p.Kernel != Linear && !(p.Gamma > 0 && finite(p.Gamma)) {
		return fmt.Errorf("gamma %v must be finite and > 0 for the %v kernel", p.Gamma, p.Kernel)
	}
	if !finite(p.Coef0) {
		return fmt.Errorf("coef0 %v is not finite", p.Coef0)
	}
	if p.Degree < 0 {
		return fmt.Errorf("degree %d is negative", p.Degree)
	}
	if !(p.Tol >= 0) || math.IsInf(p.Tol, 0) {
		return fmt.Errorf("tolerance %v must be finite and >= 0", p.Tol)
	}
	if p.Init != InitScikitLearn && p.Init != InitLibSVM {
		return fmt.Errorf("unknown starting point %d", int(p.Init))
	}
	if p.CacheBytes < 0 || p.MaxIter < 0 {
		return errors.New("cache size and iteration limit must not be negative")
	}
	return nil
}

// GammaAuto is scikit-learn's gamma='auto': 1/n_features.
func GammaAuto(nFeatures int) float64 { return 1 / float64(nFeatures) }

// GammaScale is scikit-learn's gamma='scale': 1/(n_features * X.var()),
// the variance taken over all values of x at once (1 if it is 0). Its sums
// are numpy's pairwise sums, so it matches scikit-learn to the last bit or
// nearly.
func GammaScale(x [][]float64) float64 {
	nf := len(x[0])
	flat := make([]float64, 0, len(x)*nf)
	for _, r := range x {
		flat = append(flat, r...)
	}
	n := float64(len(flat))
	mean := pairwiseSum(flat) / n
	for i, v := range flat {
		d := v - mean
		flat[i] = d * d
	}
	v := pairwiseSum(flat) / n
	if v == 0 {
		return 1
	}
	return 1 / (float64(nf) * v)
}

// pairwiseSum is numpy's pairwise summation of a contiguous float64 array
// (eight partial sums in blocks of up to 128, halved recursively above).
func pairwiseSum(a []float64) float64 {
	n := len(a)
	switch {
	case n < 8:
		s := 0.0
		for _, v := range a {
			s += v
		}
		return s
	case n <= 128:
		var r [8]float64
		copy(r[:], a[:8])
		i := 8
		for ; i < n-n%8; i += 8 {
			for k := range r {
				r[k] += a[i+k]
			}
		}
		s := ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
		for ; i < n; i++ {
			s += a[i]
		}
		return s
	}
	n2 := n / 2
	n2 -= n2 % 8
	return pairwiseSum(a[:n2]) + pairwiseSum(a[n2:])
}

// FitScaler returns scikit-learn's StandardScaler mean_ and scale_ for x:
// the mean and the population standard deviation of each feature, with the
// scale of a (nearly) constant feature set to 1 as scikit-learn does.
func FitScaler(x [][]float64) (mean, scale []float64) {
	n, nf := len(x), len(x[0])
	col := make([]float64, n)
	mean, scale = make([]float64, nf), make([]float64, nf)
	for j := range nf {
		for i, r := range x {
			col[i] = r[j]
		}
		m, v := meanVar(col, nf == 1)
		mean[j] = m
		s := math.Sqrt(v)
		// _is_constant_feature: var <= n*eps*var + (n*mean*eps)^2
		const eps = 0x1p-52
		fn := float64(n)
		t := fn * m * eps
		if v <= fn*eps*v+t*t {
			s = 1
		}
		scale[j] = s
	}
	return mean, scale
}

// meanVar follows scikit-learn's _incremental_mean_and_var for one batch:
// numpy sums (pairwise when the column is the whole contiguous array, one
// row after another otherwise), the mean, and the variance with the
// two-pass correction term.
func meanVar(col []float64, contiguous bool) (mean, variance float64) {
	sum := func(a []float64) float64 {
		if contiguous {
			return pairwiseSum(a)
		}
		s := 0.0
		for _, v := range a {
			s += v
		}
		return s
	}
	n := float64(len(col))
	mean = sum(col) / n
	t := make([]float64, len(col))
	for i, v := range col {
		t[i] = v - mean
	}
	corr := sum(t)
	for i, v := range t {
		t[i] = v * v
	}
	unnorm := sum(t) - corr*corr/n
	return mean, unnorm / n
}

// ScaleRows returns (x - mean) / scale row by row, as the model standardises
// a row before scoring it.
func ScaleRows(x [][]float64, mean, scale []float64) [][]float64 {
	nf := len(mean)
	flat := make([]float64, len(x)*nf)
	out := make([][]float64, len(x))
	for i, r := range x {
		z := flat[i*nf : (i+1)*nf : (i+1)*nf]
		for j, v := range r {
			z[j] = (v - mean[j]) / scale[j]
		}
		out[i] = z
	}
	return out
}

// FitOptions are the settings of Fit.
type FitOptions struct {
	TrainParams
	// Gamma, if not empty, replaces TrainParams.Gamma: "scale", "auto" or a
	// number (see ParseGamma).
	Gamma string
	// Scale fits a StandardScaler first and trains on the scaled rows; the
	// model then carries the scaler.
	Scale bool
}

// Fit fits a StandardScaler (if o.Scale), works out gamma, trains and
// returns the model ready to score raw rows, with the training result.
func Fit(x [][]float64, o FitOptions) (*Model, *TrainResult, error) {
	if len(x) == 0 || len(x[0]) == 0 {
		return nil, nil, fmt.Errorf("%w: no rows or no features", ErrInvalidTraining)
	}
	p := o.TrainParams
	z := x
	var mean, scale []float64
	if o.Scale {
		if err := validateTraining(x, TrainParams{Nu: 1, Kernel: Linear}); err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrInvalidTraining, err)
		}
		mean, scale = FitScaler(x)
		z = ScaleRows(x, mean, scale)
	}
	if o.Gamma != "" {
		g, err := ParseGamma(o.Gamma, z)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrInvalidTraining, err)
		}
		p.Gamma = g
	}
	r, err := TrainOneClass(z, p)
	if err != nil {
		return nil, nil, err
	}
	mp := r.Params
	mp.ScalerMean, mp.ScalerScale = mean, scale
	m, err := New(mp)
	if err != nil {
		return nil, nil, err
	}
	return m, r, nil
}

// ParseGamma reads a gamma setting: "scale" (GammaScale of x), "auto"
// (GammaAuto) or a positive number.
func ParseGamma(s string, x [][]float64) (float64, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "scale":
		return GammaScale(x), nil
	case "auto":
		return GammaAuto(len(x[0])), nil
	}
	g, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || !(g > 0) || math.IsInf(g, 0) {
		return 0, fmt.Errorf("gamma %q: want scale, auto or a number > 0", s)
	}
	return g, nil
}
