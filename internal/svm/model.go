package svm

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Kernel identifies the kernel function of a model.
type Kernel int

// The kernels of libsvm and scikit-learn (precomputed kernels are not supported).
const (
	RBF     Kernel = iota // exp(-gamma*||z-sv||^2)
	Linear                // z.sv
	Poly                  // (gamma*z.sv + coef0)^degree
	Sigmoid               // tanh(gamma*z.sv + coef0)
)

var kernelNames = [...]string{RBF: "rbf", Linear: "linear", Poly: "poly", Sigmoid: "sigmoid"}

// String returns the scikit-learn/libsvm name of the kernel: "rbf", "linear", "poly" or "sigmoid".
func (k Kernel) String() string {
	if k < 0 || int(k) >= len(kernelNames) {
		return fmt.Sprintf("Kernel(%d)", int(k))
	}
	return kernelNames[k]
}

// ErrInvalidModel is wrapped by every error New returns.
var ErrInvalidModel = errors.New("svm: invalid model")

// ParseKernel returns the kernel with the given name, as String prints it
// (case-insensitive, surrounding space ignored).
func ParseKernel(s string) (Kernel, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	for k, n := range kernelNames {
		if n == name {
			return Kernel(k), nil
		}
	}
	return 0, fmt.Errorf("svm: unknown kernel %q", s)
}

// Params is everything that defines a one-class SVM decision function.
//
// Each input row x is first standardised feature by feature,
//
//	z_j = (x_j - ScalerMean_j) / ScalerScale_j
//
// where a nil ScalerMean skips the centring, a nil ScalerScale skips the
// division, and a scale of exactly 0 is treated as 1 (as scikit-learn's
// StandardScaler does). The decision value is then
//
//	decision(x) = sum_i DualCoef_i * K(z, SupportVectors_i) + Intercept
//
// with the kernel K one of
//
//	rbf:     K(z, s) = exp(-Gamma * ||z - s||^2)
//	linear:  K(z, s) = z.s
//	poly:    K(z, s) = (Gamma * z.s + Coef0)^Degree
//	sigmoid: K(z, s) = tanh(Gamma * z.s + Coef0)
//
// ||z - s||^2 is the sum of squared differences, (z_j - s_j)^2, added in
// feature order, exactly as scikit-learn forms it (a dot product of z - s with
// itself); it is never expanded to ||z||^2 + ||s||^2 - 2 z.s, which cancels
// badly when z is close to s.
type Params struct {
	Kernel Kernel
	Gamma  float64 // > 0 unless Kernel is Linear (where it is unused, but must be finite)
	Coef0  float64 // used by Poly and Sigmoid
	Degree int     // used by Poly; >= 0

	// SupportVectors is nSV x nFeatures, in the (scaled) space the SVM was fitted in.
	SupportVectors [][]float64
	// DualCoef has one coefficient per support vector.
	DualCoef []float64
	// Intercept is added to the kernel sum; it is -rho in libsvm's terms.
	Intercept float64

	// ScalerMean, if not nil, is subtracted from each row (one value per feature).
	ScalerMean []float64
	// ScalerScale, if not nil, divides each centred row (one value per feature).
	ScalerScale []float64

	// FeatureNames, if not nil, names the features in order (what
	// scikit-learn keeps in feature_names_in_ when a model is fitted on a
	// pandas DataFrame). It does not change the decision.
	FeatureNames []string
}

// Model is a validated one-class SVM, ready to score. It is immutable, so one
// Model may be used by any number of goroutines at once.
type Model struct {
	p Params // deep copy of what New got, returned by Params

	kernel Kernel
	gamma  float64
	coef0  float64
	degree int
	nf     int
	nsv    int

	mean  []float64 // nf values, or nil
	scale []float64 // nf values (0 replaced by 1), or nil

	sv        []float64 // nsv*nf, row-major (one support vector after another)
	dual      []float64 // nsv
	intercept float64

	// blocked layout used by the batch RBF kernel, see batch.go.
	blk svBlocks
}

// New validates p and returns a model holding its own copy of the data.
//
// It checks that there is at least one support vector and one feature, that
// all support vectors, DualCoef, ScalerMean and ScalerScale have matching
// lengths, that every number is finite, that Gamma > 0 (unless the kernel is
// linear) and that Degree >= 0. Errors wrap ErrInvalidModel.
func New(p Params) (*Model, error) {
	if err := validate(p); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidModel, err)
	}
	nsv, nf := len(p.SupportVectors), len(p.SupportVectors[0])
	m := &Model{
		p:         cloneParams(p),
		kernel:    p.Kernel,
		gamma:     p.Gamma,
		coef0:     p.Coef0,
		degree:    p.Degree,
		nf:        nf,
		nsv:       nsv,
		mean:      cloneFloats(p.ScalerMean),
		dual:      cloneFloats(p.DualCoef),
		intercept: p.Intercept,
		sv:        make([]float64, 0, nsv*nf),
	}
	if p.ScalerScale != nil {
		m.scale = make([]float64, nf)
		for j, s := range p.ScalerScale {
			if s == 0 {
				s = 1
			}
			m.scale[j] = s
		}
	}
	for _, s := range p.SupportVectors {
		m.sv = append(m.sv, s...)
	}
	if m.kernel == RBF {
		m.blk = newSVBlocks(m.sv, m.dual, nsv, nf)
	}
	return m, nil
}

func validate(p Params) error {
	if p.Kernel < 0 || int(p.Kernel) >= len(kernelNames) {
		return fmt.Errorf("unknown kernel %d", int(p.Kernel))
	}
	if !finite(p.Gamma) {
		return fmt.Errorf("gamma %v is not finite", p.Gamma)
	}
	if p.Kernel != Linear && !(p.Gamma > 0) {
		return fmt.Errorf("gamma %v must be > 0 for the %v kernel", p.Gamma, p.Kernel)
	}
	if !finite(p.Coef0) {
		return fmt.Errorf("coef0 %v is not finite", p.Coef0)
	}
	if p.Degree < 0 {
		return fmt.Errorf("degree %d is negative", p.Degree)
	}
	if !finite(p.Intercept) {
		return fmt.Errorf("intercept %v is not finite", p.Intercept)
	}
	nsv := len(p.SupportVectors)
	if nsv == 0 {
		return errors.New("no support vectors")
	}
	nf := len(p.SupportVectors[0])
	if nf == 0 {
		return errors.New("support vectors have no features")
	}
	for i, s := range p.SupportVectors {
		if len(s) != nf {
			return fmt.Errorf("support vector %d has %d features, want %d", i, len(s), nf)
		}
		for j, v := range s {
			if !finite(v) {
				return fmt.Errorf("support vector %d feature %d is %v", i, j, v)
			}
		}
	}
	if len(p.DualCoef) != nsv {
		return fmt.Errorf("%d dual coefficients for %d support vectors", len(p.DualCoef), nsv)
	}
	for i, v := range p.DualCoef {
		if !finite(v) {
			return fmt.Errorf("dual coefficient %d is %v", i, v)
		}
	}
	for _, sc := range []struct {
		name string
		v    []float64
	}{{"scaler mean", p.ScalerMean}, {"scaler scale", p.ScalerScale}} {
		if sc.v == nil {
			continue
		}
		if len(sc.v) != nf {
			return fmt.Errorf("%s has %d values for %d features", sc.name, len(sc.v), nf)
		}
		for j, v := range sc.v {
			if !finite(v) {
				return fmt.Errorf("%s feature %d is %v", sc.name, j, v)
			}
		}
	}
	if p.FeatureNames != nil && len(p.FeatureNames) != nf {
		return fmt.Errorf("%d feature names for %d features", len(p.FeatureNames), nf)
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func cloneFloats(v []float64) []float64 {
	if v == nil {
		return nil
	}
	return append(make([]float64, 0, len(v)), v...)
}

func cloneParams(p Params) Params {
	q := p
	q.SupportVectors = make([][]float64, len(p.SupportVectors))
	for i, s := range p.SupportVectors {
		q.SupportVectors[i] = cloneFloats(s)
	}
	q.DualCoef = cloneFloats(p.DualCoef)
	q.ScalerMean = cloneFloats(p.ScalerMean)
	q.ScalerScale = cloneFloats(p.ScalerScale)
	q.FeatureNames = slices.Clone(p.FeatureNames)
	return q
}

// Params returns a deep copy of the parameters the model was built from,
// exactly as New received them.
func (m *Model) Params() Params { return cloneParams(m.p) }

// NFeatures returns the number of features a row must have.
func (m *Model) NFeatures() int { return m.nf }

// FeatureNames returns the names of the features in order, or nil when the
// model file carries none (see Params.FeatureNames).
func (m *Model) FeatureNames() []string { return slices.Clone(m.p.FeatureNames) }

// NSupport returns the number of support vectors.
func (m *Model) NSupport() int { return m.nsv }

// Kernel returns the model's kernel.
func (m *Model) Kernel() Kernel { return m.kernel }

// IsAnomaly reports whether a decision value marks an anomaly: decision <= 0.
// This is libsvm's rule (sign(0) is -1), so a decision of exactly 0 is an
// anomaly; scikit-learn's predict gives -1 for such rows too.
// A NaN decision (from a row with a NaN feature) also counts as an anomaly.
func IsAnomaly(decision float64) bool { return !(decision > 0) }

// Decision returns the decision value of one row x (see Params for the
// formula). Positive means inlier, <= 0 anomaly (see IsAnomaly).
//
// It panics if len(x) != NFeatures(): that is a programming error, which
// callers rule out when they parse their input.
func (m *Model) Decision(x []float64) float64 {
	if len(x) != m.nf {
		panic(fmt.Sprintf("svm: row has %d features, model wants %d", len(x), m.nf))
	}
	var buf [(1 + svLanes) * 16]float64
	z, zb := m.scratch(buf[:])
	m.standardize(z, x)
	return m.decisionZ(z, zb)
}

// scratch returns space for one standardised row and for its broadcast copy
// (svLanes values per feature), from buf if it is large enough.
func (m *Model) scratch(buf []float64) (z, zb []float64) {
	const per = 1 + svLanes
	if len(buf) < per*m.nf {
		buf = make([]float64, per*m.nf)
	}
	return buf[:m.nf], buf[m.nf : per*m.nf]
}

// decisionZ is the decision value of one standardised row z, the code that
// every scoring method runs per row.
func (m *Model) decisionZ(z, zb []float64) float64 {
	if m.kernel == RBF {
		return m.blk.rbfSum(z, zb, -m.gamma) + m.intercept
	}
	return m.decisionExact(z)
}

// standardize writes (x - mean) / scale into z, skipping nil parts.
func (m *Model) standardize(z, x []float64) {
	copy(z, x)
	if m.mean != nil {
		for j, mu := range m.mean {
			z[j] -= mu
		}
	}
	if m.scale != nil {
		for j, s := range m.scale {
			z[j] /= s
		}
	}
}

// decisionExact evaluates one standardised row as libsvm does: one kernel
// value after another (with math.Exp for RBF), added in support-vector order.
// It serves the linear, poly and sigmoid kernels, and the tests use it as the
// reference for the RBF kernel.
func (m *Model) decisionExact(z []float64) float64 {
	nf := m.nf
	sum := 0.0
	for i := 0; i < m.nsv; i++ {
		sv := m.sv[i*nf : i*nf+nf]
		sum += m.dual[i] * m.kernelValue(z, sv)
	}
	return sum + m.intercept
}

// kernelValue is K(z, sv) for one pair, with math.Exp, math.Tanh and
// libsvm's integer power.
func (m *Model) kernelValue(z, sv []float64) float64 {
	switch m.kernel {
	case RBF:
		return math.Exp(-(m.gamma * sqDist(z, sv)))
	case Linear:
		return dot(z, sv)
	case Poly:
		return powi(m.gamma*dot(z, sv)+m.coef0, m.degree)
	case Sigmoid:
		return math.Tanh(m.gamma*dot(z, sv) + m.coef0)
	}
	panic("svm: unreachable kernel " + m.kernel.String())
}

// sqDist is the sum of (a_j - b_j)^2 in feature order.
func sqDist(a, b []float64) float64 {
	b = b[:len(a)]
	s := 0.0
	for j, v := range a {
		d := v - b[j]
		s += d * d
	}
	return s
}

func dot(a, b []float64) float64 {
	b = b[:len(a)]
	s := 0.0
	for j, v := range a {
		s += v * b[j]
	}
	return s
}

// powi is libsvm's base^times by repeated squaring (so poly kernels round
// as libsvm and scikit-learn round them).
func powi(base float64, times int) float64 {
	tmp, ret := base, 1.0
	for t := times; t > 0; t /= 2 {
		if t%2 == 1 {
			ret *= tmp
		}
		tmp *= tmp
	}
	return ret
}
