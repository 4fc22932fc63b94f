package svm

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxLibSVMFeatures bounds the feature index a libsvm model may use, so that a
// corrupt index cannot make the dense support vectors huge.
const maxLibSVMFeatures = 1 << 20

// The dense support vectors (nSV x nFeatures) may have maxLibSVMCells
// cells, or libsvmCellsPerValue per value the file lists if that is more: a
// sparse file of a few kilobytes (256 lines of "1 1048576:0") must not make
// gigabytes of zeros, three times over (parsed, copied by New, blocked).
const (
	maxLibSVMCells      = 1 << 22
	libsvmCellsPerValue = 16
)

// libsvmKernels maps libsvm's kernel_type names to kernels.
var libsvmKernels = map[string]Kernel{
	"linear":     Linear,
	"polynomial": Poly,
	"rbf":        RBF,
	"sigmoid":    Sigmoid,
}

// LoadLibSVM reads a one-class model in libsvm's text format, as
// `svm-train -s 2` writes it:
//
//	svm_type one_class
//	kernel_type rbf           (linear, polynomial, rbf or sigmoid)
//	degree 3                  (polynomial only)
//	gamma 0.5                 (all but linear)
//	coef0 0                   (polynomial and sigmoid)
//	nr_class 2
//	total_sv 3
//	rho 0.42
//	SV
//	0.25 1:0.5 3:-1
//	...
//
// Each line after "SV" is a dual coefficient followed by the support vector in
// libsvm's sparse form, index:value with indices from 1 in increasing order.
// The model gets n = the largest index used by any support vector as its
// number of features, and an index that a support vector leaves out is 0
// there, which is what libsvm's sparse kernels compute. The intercept is
// -rho, so decision(x) = sum_i coef_i K(x, sv_i) - rho, as in svm-predict.
//
// libsvm itself would also accept a row with features beyond n: they meet no
// support-vector value, so they add x_j^2 to the RBF distance and nothing to
// the dot products. A Model takes rows of exactly NFeatures values; to score
// wider rows with libsvm's meaning, widen the model with PadFeatures.
//
// Models of other svm types (c_svc, nu_svc, epsilon_svr, nu_svr) and the
// precomputed kernel are refused. Every error about the model's content
// wraps ErrInvalidModel; an error of r itself is returned wrapped as it is. Header lines libsvm may add that do not
// change the decision (label, nr_sv, probA, probB, prob_density_marks) are
// accepted and ignored.
func LoadLibSVM(r io.Reader) (*Model, error) {
	p, err := parseLibSVM(r)
	if err != nil {
		var pe *errLibSVM
		if errors.As(err, &pe) {
			err = invalidModelError{err}
		}
		return nil, fmt.Errorf("libsvm model: %w", err)
	}
	m, err := New(p)
	if err != nil {
		return nil, fmt.Errorf("libsvm model: %w", err)
	}
	return m, nil
}

// invalidModelError marks an error in a model's content: its text is that
// of err, and it matches both err and ErrInvalidModel (errors.Is).
type invalidModelError struct{ err error }

func (e invalidModelError) Error() string   { return e.err.Error() }
func (e invalidModelError) Unwrap() []error { return []error{ErrInvalidModel, e.err} }

// errLibSVM is a parse error of a libsvm model, with the line number.
type errLibSVM struct {
	line int
	msg  string
}

func (e *errLibSVM) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

func parseLibSVM(r io.Reader) (Params, error) {
	var p Params
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 64<<20)
	line := 0
	fail := func(format string, args ...any) (Params, error) {
		return Params{}, &errLibSVM{line: line, msg: fmt.Sprintf(format, args...)}
	}

	seen := map[string]bool{}
	svmType, kernelName := "", ""
	totalSV := -1
	nrClass := -1
	var rho float64
	inSV := false
	for !inSV && sc.Scan() {
		line++
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			if len(seen) == 0 {
				continue // blank lines before the model
			}
			return fail("empty header line")
		}
		key, args := fields[0], fields[1:]
		if key != "SV" && seen[key] {
			return fail("%s given twice", key)
		}
		seen[key] = true
		one := func() (string, error) {
			if len(args) != 1 {
				return "", &errLibSVM{line: line, msg: fmt.Sprintf("%s wants one value, got %d", key, len(args))}
			}
			return args[0], nil
		}
		var err error
		var v string
		switch key {
		case "svm_type":
			if svmType, err = one(); err != nil {
				return Params{}, err
			}
			if svmType != "one_class" {
				return fail("svm_type %s is not supported: only one_class models (svm-train -s 2) can be scored", quoteShort(svmType))
			}
		case "kernel_type":
			if kernelName, err = one(); err != nil {
				return Params{}, err
			}
			k, ok := libsvmKernels[kernelName]
			if !ok {
				return fail("kernel_type %s is not supported (linear, polynomial, rbf or sigmoid)", quoteShort(kernelName))
			}
			p.Kernel = k
		case "degree":
			if v, err = one(); err != nil {
				return Params{}, err
			}
			d, perr := strconv.Atoi(v)
			if perr != nil || d < 0 {
				return fail("degree %s is not a non-negative integer", quoteShort(v))
			}
			p.Degree = d
		case "gamma", "coef0", "rho":
			if v, err = one(); err != nil {
				return Params{}, err
			}
			f, perr := parseFiniteFloat(v)
			if perr != nil {
				return fail("%s: %v", key, perr)
			}
			switch key {
			case "gamma":
				p.Gamma = f
			case "coef0":
				p.Coef0 = f
			default:
				rho = f
			}
		case "nr_class", "total_sv":
			if v, err = one(); err != nil {
				return Params{}, err
			}
			n, perr := strconv.Atoi(v)
			if perr != nil || n < 0 {
				return fail("%s %s is not a non-negative integer", key, quoteShort(v))
			}
			if key == "nr_class" {
				nrClass = n
			} else {
				totalSV = n
			}
		case "label", "nr_sv", "probA", "probB", "prob_density_marks":
			// Classification and probability outputs: no effect on the decision value.
		case "SV":
			if len(args) != 0 {
				return fail("SV line has extra text")
			}
			inSV = true
		default:
			return fail("unknown header line %s", quoteShort(key))
		}
	}
	if err := sc.Err(); err != nil {
		return Params{}, fmt.Errorf("read: %w", err)
	}
	switch {
	case !inSV:
		return fail("no SV line: not a complete libsvm model")
	case svmType == "":
		return fail("no svm_type line")
	case kernelName == "":
		return fail("no kernel_type line")
	case totalSV < 0:
		return fail("no total_sv line")
	case !seen["rho"]:
		return fail("no rho line")
	case nrClass >= 0 && nrClass != 2:
		return fail("nr_class %d, one-class models have 2", nrClass)
	}
	for _, need := range map[Kernel][]string{Poly: {"degree", "gamma", "coef0"}, RBF: {"gamma"}, Sigmoid: {"gamma", "coef0"}}[p.Kernel] {
		if !seen[need] {
			return fail("no %s line for kernel %s", need, kernelName)
		}
	}
	p.Intercept = -rho

	// Support vectors, sparse; densified once the widest index is known.
	type node struct {
		idx int
		val float64
	}
	var (
		nodes  []node
		starts []int
		nf     int
	)
	for sc.Scan() {
		line++
		text := sc.Bytes()
		if len(bytes.TrimSpace(text)) == 0 {
			continue // svm-train ends lines with a space; tolerate blank trailing lines too
		}
		if len(p.DualCoef) == totalSV {
			return fail("more support vectors than total_sv %d", totalSV)
		}
		fields := strings.Fields(string(text))
		coef, err := parseFiniteFloat(fields[0])
		if err != nil {
			return fail("dual coefficient: %v", err)
		}
		p.DualCoef = append(p.DualCoef, coef)
		starts = append(starts, len(nodes))
		prev := 0
		for _, f := range fields[1:] {
			is, vs, ok := strings.Cut(f, ":")
			if !ok {
				return fail("support vector entry %s is not index:value", quoteShort(f))
			}
			idx, err := strconv.Atoi(is)
			if err != nil || idx < 1 || idx > maxLibSVMFeatures {
				return fail("support vector index %s is not an integer in 1..%d", quoteShort(is), maxLibSVMFeatures)
			}
			if idx <= prev {
				return fail("support vector index %d after %d: indices must increase", idx, prev)
			}
			prev = idx
			val, err := parseFiniteFloat(vs)
			if err != nil {
				return fail("support vector feature %d: %v", idx, err)
			}
			nodes = append(nodes, node{idx, val})
			nf = max(nf, idx)
		}
	}
	if err := sc.Err(); err != nil {
		return Params{}, fmt.Errorf("read: %w", err)
	}
	if len(p.DualCoef) != totalSV {
		return fail("%d support vectors, total_sv says %d", len(p.DualCoef), totalSV)
	}
	if totalSV == 0 {
		return fail("no support vectors")
	}
	if nf == 0 {
		return fail("support vectors have no features (every value is missing)")
	}
	if cells := totalSV * nf; cells > maxLibSVMCells && cells > libsvmCellsPerValue*len(nodes) {
		return fail("%d support vectors x %d features is too large for the %d values the file lists", totalSV, nf, len(nodes))
	}
	cells := make([]float64, totalSV*nf)
	p.SupportVectors = make([][]float64, totalSV)
	starts = append(starts, len(nodes))
	for i := range totalSV {
		sv := cells[i*nf : (i+1)*nf : (i+1)*nf]
		for _, n := range nodes[starts[i]:starts[i+1]] {
			sv[n.idx-1] = n.val
		}
		p.SupportVectors[i] = sv
	}
	return p, nil
}

// parseFiniteFloat parses a decimal number and refuses NaN and infinities.
func parseFiniteFloat(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is not a number", quoteShort(s))
	}
	if !finite(f) {
		return 0, fmt.Errorf("%s is not finite", quoteShort(s))
	}
	return f, nil
}

// quoteShort quotes s, cut to 40 bytes, for error messages.
func quoteShort(s string) string {
	if len(s) > 40 {
		return strconv.Quote(s[:40]) + "..."
	}
	return strconv.Quote(s)
}

// PadFeatures returns a model that takes rows of n features, n >= NFeatures,
// by giving every support vector zeros in the new features (and, when the
// model has a scaler, mean 0 and scale 1 there). For a libsvm model this is
// exactly libsvm's sparse meaning of a row longer than the model: the extra
// features meet no support-vector value. If n == NFeatures, m is returned.
func PadFeatures(m *Model, n int) (*Model, error) {
	nf := m.NFeatures()
	switch {
	case n == nf:
		return m, nil
	case n < nf:
		return nil, fmt.Errorf("svm: cannot pad a model of %d features to %d", nf, n)
	}
	p := m.Params()
	for i, sv := range p.SupportVectors {
		p.SupportVectors[i] = append(sv, make([]float64, n-nf)...)
	}
	if p.ScalerMean != nil {
		p.ScalerMean = append(p.ScalerMean, make([]float64, n-nf)...)
	}
	if p.ScalerScale != nil {
		for range n - nf {
			p.ScalerScale = append(p.ScalerScale, 1)
		}
	}
	return New(p)
}

// WriteLibSVM writes m in libsvm's text format as a one-class model that
// svm-predict and LoadLibSVM read. Numbers are written with the shortest text
// that reads back to the same float64, so LoadLibSVM returns the same
// decision function. Every support-vector value is written, zeros included,
// so that the number of features survives the round trip.
// Models with a scaler cannot be written: libsvm has none.
func WriteLibSVM(w io.Writer, m *Model) error {
	p := m.Params()
	if p.ScalerMean != nil || p.ScalerScale != nil {
		return errors.New("svm: write libsvm: the model has a scaler, which libsvm models cannot hold")
	}
	var names = map[Kernel]string{Linear: "linear", Poly: "polynomial", RBF: "rbf", Sigmoid: "sigmoid"}
	bw := bufio.NewWriter(w)
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	fmt.Fprintf(bw, "svm_type one_class\nkernel_type %s\n", names[p.Kernel])
	if p.Kernel == Poly {
		fmt.Fprintf(bw, "degree %d\n", p.Degree)
	}
	if p.Kernel != Linear {
		fmt.Fprintf(bw, "gamma %s\n", g(p.Gamma))
	}
	if p.Kernel == Poly || p.Kernel == Sigmoid {
		fmt.Fprintf(bw, "coef0 %s\n", g(p.Coef0))
	}
	fmt.Fprintf(bw, "nr_class 2\ntotal_sv %d\nrho %s\nSV\n", len(p.DualCoef), g(-p.Intercept))
	buf := make([]byte, 0, 64)
	for i, sv := range p.SupportVectors {
		buf = strconv.AppendFloat(buf[:0], p.DualCoef[i], 'g', -1, 64)
		for j, v := range sv {
			buf = append(buf, ' ')
			buf = strconv.AppendInt(buf, int64(j+1), 10)
			buf = append(buf, ':')
			buf = strconv.AppendFloat(buf, v, 'g', -1, 64)
		}
		buf = append(buf, ' ', '\n')
		bw.Write(buf)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("svm: write libsvm: %w", err)
	}
	return nil
}
