package svm

import (
	"errors"
	"fmt"
	"strings"

	"github.com/batchscore/batchscore/internal/pickle"
)

// supportedSklearn says, in error messages, which scikit-learn objects the
// pickle and joblib loaders read.
const supportedSklearn = "supported: a scikit-learn OneClassSVM, alone or as the last step of a Pipeline with an optional StandardScaler before it"

// The globals a scikit-learn model pickle may name. Nothing is ever imported
// or called: these names only label nodes of the tree (see internal/pickle).
var allowedGlobals = map[pickle.Global]bool{}

func init() {
	for _, s := range []string{
		"sklearn.pipeline.Pipeline",
		"sklearn.svm.classes.OneClassSVM", // scikit-learn < 0.22
		"sklearn.svm._classes.OneClassSVM",
		"sklearn.preprocessing.data.StandardScaler", // scikit-learn < 0.22
		"sklearn.preprocessing._data.StandardScaler",
		"numpy.ndarray",
		"numpy.dtype",
		"numpy.core.multiarray._reconstruct",
		"numpy._core.multiarray._reconstruct",
		"numpy.core.multiarray.scalar",
		"numpy._core.multiarray.scalar",
		"numpy.core.numeric._frombuffer",
		"numpy._core.numeric._frombuffer",
		"joblib.numpy_pickle.NumpyArrayWrapper",
		"sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper",
		"_codecs.encode",
		"builtins.bytes", "__builtin__.bytes",
		"builtins.bytearray", "__builtin__.bytearray",
		"builtins.object", "__builtin__.object",
		"copyreg._reconstructor", "copy_reg._reconstructor",
		"collections.OrderedDict",
		// random_state=np.random.RandomState(...) kept on an estimator
		"numpy.random._pickle.__randomstate_ctor",
		"numpy.random._pickle.__bit_generator_ctor",
		"numpy.random._pickle.__generator_ctor",
		"numpy.random.__RandomState_ctor", // numpy < 1.17
	} {
		i := strings.LastIndexByte(s, '.')
		allowedGlobals[pickle.Global{Module: s[:i], Name: s[i+1:]}] = true
	}
}

func allowGlobal(g pickle.Global) bool { return allowedGlobals[g] }

// LoadPickle reads a scikit-learn model as Python's pickle.dump wrote it
// (protocols 0 to 5, scikit-learn 0.19 to 1.x, numpy 1 or 2): a OneClassSVM,
// or a Pipeline whose last step is a OneClassSVM with an optional
// StandardScaler before it. Nothing in the data is executed: the pickle is
// read by a restricted machine that only accepts the globals such a model
// names (see internal/pickle). An uncompressed joblib file is read too (see
// LoadJoblib). Errors are one line saying what was found and
// what is supported, and wrap ErrInvalidModel.
func LoadPickle(data []byte) (*Model, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty pickle; %s", ErrInvalidModel, supportedSklearn)
	}
	return loadPickleTree(data)
}

// loadPickleTree reads the model of a pickle stream (joblibHook also reads
// joblib's array wrappers, should an uncompressed joblib file be given to
// LoadPickle).
//
// An error names the scikit-learn version that wrote the file when the file
// records one (every estimator's state holds _sklearn_version since
// scikit-learn 0.18), so that a refused class from a newer release says so.
func loadPickleTree(data []byte) (*Model, error) {
	v, err := pickle.Load(data, pickle.Options{Allow: allowGlobal, OnBuild: joblibHook})
	if err != nil {
		var ge *pickle.GlobalError
		if errors.As(err, &ge) {
			// Read the stream again, only to find the version: names
			// are never imported or called, so allowing all of them
			// here only labels more nodes.
			all, _ := pickle.Load(data, pickle.Options{Allow: func(pickle.Global) bool { return true }, OnBuild: joblibHook})
			return nil, withVersion(pickleError(err), sklearnVersion(all))
		}
		return nil, pickleError(err)
	}
	m, err := modelFromTree(v)
	if err != nil {
		return nil, withVersion(err, sklearnVersion(v))
	}
	return m, nil
}

// withVersion adds the scikit-learn version that wrote a file to an error
// about it, when the version is known.
func withVersion(err error, version string) error {
	if version == "" {
		return err
	}
	return fmt.Errorf("%w (file written by scikit-learn %s)", err, version)
}

// maxVersionVisits bounds the nodes sklearnVersion looks at.
const maxVersionVisits = 100000

// sklearnVersion returns the _sklearn_version the first estimator of the
// tree records (breadth first: the outermost one), or "".
func sklearnVersion(root pickle.Value) string {
	seen := make(map[any]bool)
	queue := []pickle.Value{root}
	for n := 0; len(queue) > 0 && n < maxVersionVisits; n++ {
		v := queue[0]
		queue = queue[1:]
		switch x := v.(type) {
		case *pickle.Object:
			if seen[x] {
				continue
			}
			seen[x] = true
			if st, ok := x.State.(*pickle.Dict); ok {
				if ver, ok := st.Get("_sklearn_version"); ok {
					if s, ok := asString(ver); ok && isVersion(s) {
						return s
					}
				}
			}
			queue = append(queue, x.State)
			queue = append(queue, x.Args...)
			queue = append(queue, x.ListItems...)
		case *pickle.Dict:
			if seen[x] {
				continue
			}
			seen[x] = true
			queue = append(queue, x.Values...)
		case *pickle.List:
			if seen[x] {
				continue
			}
			seen[x] = true
			queue = append(queue, x.Items...)
		case pickle.Tuple:
			queue = append(queue, x...)
		}
	}
	return ""
}

// isVersion reports whether s looks like a version number (so that a
// hostile file cannot put any text into an error message).
func isVersion(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c == '.' || c == '+' || c == '-') {
			return false
		}
	}
	return true
}

// pickleError turns a pickle machine error into this package's one-line
// error. A refused scikit-learn class is reported as what was found.
func pickleError(err error) error {
	var ge *pickle.GlobalError
	if errors.As(err, &ge) && strings.HasPrefix(ge.Global.Module, "sklearn.") {
		return fmt.Errorf("%w: found %s; %s", ErrInvalidModel, ge.Global, supportedSklearn)
	}
	if errors.Is(err, pickle.ErrTruncated) {
		return fmt.Errorf("%w: truncated or damaged file: %w", ErrInvalidModel, err)
	}
	return fmt.Errorf("%w: %w", ErrInvalidModel, err)
}

func modelFromTree(v pickle.Value) (*Model, error) {
	p, err := paramsFromTree(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidModel, err)
	}
	m, err := New(p)
	if err != nil {
		return nil, err
	}
	return m, nil
}

var (
	pipelineNames = []string{"sklearn.pipeline.Pipeline"}
	svmNames      = []string{"sklearn.svm.classes.OneClassSVM", "sklearn.svm._classes.OneClassSVM"}
	scalerNames   = []string{"sklearn.preprocessing.data.StandardScaler", "sklearn.preprocessing._data.StandardScaler"}
)

// describe names what a value is, for "found ..." messages.
func describe(v pickle.Value) string {
	switch x := v.(type) {
	case *pickle.Object:
		return x.Callable.String()
	case *rawArray:
		return "a numpy array"
	case nil:
		return "None"
	}
	n := pickle.TypeName(v)
	switch n[0] {
	case 'a', 'e', 'i', 'o', 'u':
		return "an " + n
	}
	return "a " + n
}

// valueText shows a number as it is and anything else as describe names it,
// so that an error message stays one short line whatever the file holds.
func valueText(v pickle.Value) string {
	switch x := v.(type) {
	case int64, float64, bool:
		return fmt.Sprint(x)
	}
	return describe(v)
}

func foundError(v pickle.Value) error {
	return fmt.Errorf("found %s; %s", describe(v), supportedSklearn)
}

// paramsFromTree reads the estimator tree into Params.
func paramsFromTree(v pickle.Value) (Params, error) {
	o, ok := v.(*pickle.Object)
	if !ok {
		return Params{}, foundError(v)
	}
	switch {
	case isGlobal(o.Callable, svmNames...):
		return oneClassParams(o)
	case isGlobal(o.Callable, pipelineNames...):
		return pipelineParams(o)
	}
	return Params{}, foundError(v)
}

func stateDict(o *pickle.Object) (*pickle.Dict, error) {
	d, ok := o.State.(*pickle.Dict)
	if !ok {
		return nil, fmt.Errorf("%s state is %s, not a dict", o.Callable, pickle.TypeName(o.State))
	}
	return d, nil
}

func pipelineParams(o *pickle.Object) (Params, error) {
	st, err := stateDict(o)
	if err != nil {
		return Params{}, err
	}
	sv, ok := st.Get("steps")
	if !ok {
		return Params{}, errors.New("Pipeline has no steps")
	}
	var items []pickle.Value
	switch s := sv.(type) {
	case *pickle.List:
		items = s.Items
	case pickle.Tuple:
		items = s
	default:
		return Params{}, fmt.Errorf("Pipeline steps are %s, not a list", pickle.TypeName(sv))
	}
	var steps []*pickle.Object
	for i, it := range items {
		pair, ok := it.(pickle.Tuple)
		if !ok || len(pair) != 2 {
			return Params{}, fmt.Errorf("Pipeline step %d is %s, not a (name, estimator) pair", i, pickle.TypeName(it))
		}
		if s, isStr := asString(pair[1]); pair[1] == nil || (isStr && s == "passthrough") {
			continue
		}
		est, ok := pair[1].(*pickle.Object)
		if !ok {
			return Params{}, foundError(pair[1])
		}
		steps = append(steps, est)
	}
	if len(steps) == 0 {
		return Params{}, fmt.Errorf("found an empty Pipeline; %s", supportedSklearn)
	}
	last := steps[len(steps)-1]
	if !isGlobal(last.Callable, svmNames...) {
		return Params{}, fmt.Errorf("found a Pipeline ending in %s; %s", last.Callable, supportedSklearn)
	}
	p, err := oneClassParams(last)
	if err != nil {
		return Params{}, err
	}
	switch len(steps) {
	case 1:
		return p, nil
	case 2:
		if !isGlobal(steps[0].Callable, scalerNames...) {
			return Params{}, fmt.Errorf("found a Pipeline step %s before the OneClassSVM; %s", steps[0].Callable, supportedSklearn)
		}
		p.ScalerMean, p.ScalerScale, err = scalerParams(steps[0])
		if err != nil {
			return Params{}, err
		}
		// The Pipeline's input columns are its first step's.
		names, err := featureNames(steps[0])
		if err != nil {
			return Params{}, err
		}
		if names != nil {
			p.FeatureNames = names
		}
		return p, nil
	}
	return Params{}, fmt.Errorf("found a Pipeline of %d steps; %s", len(steps), supportedSklearn)
}

// scalerParams reads StandardScaler's mean_ and scale_, honouring
// with_mean and with_std as its transform does.
func scalerParams(o *pickle.Object) (mean, scale []float64, err error) {
	st, err := stateDict(o)
	if err != nil {
		return nil, nil, err
	}
	flag := func(name string) (bool, error) {
		v, ok := st.Get(name)
		if !ok {
			return true, nil // scikit-learn's default
		}
		b, ok := v.(bool)
		if !ok {
			return false, fmt.Errorf("StandardScaler %s is %s, not a bool", name, pickle.TypeName(v))
		}
		return b, nil
	}
	vector := func(name string) ([]float64, error) {
		v, ok := st.Get(name)
		if !ok || v == nil {
			return nil, fmt.Errorf("StandardScaler has no %s (is it fitted?)", name)
		}
		a, err := toArray(v)
		if err != nil {
			return nil, fmt.Errorf("StandardScaler %s: %w", name, err)
		}
		if len(a.shape) != 1 {
			return nil, fmt.Errorf("StandardScaler %s has shape %v, want one dimension", name, a.shape)
		}
		return a.data, nil
	}
	withMean, err := flag("with_mean")
	if err != nil {
		return nil, nil, err
	}
	withStd, err := flag("with_std")
	if err != nil {
		return nil, nil, err
	}
	if withMean {
		if mean, err = vector("mean_"); err != nil {
			return nil, nil, err
		}
	}
	if withStd {
		if scale, err = vector("scale_"); err != nil {
			return nil, nil, err
		}
	}
	return mean, scale, nil
}

// oneClassParams reads a fitted OneClassSVM. It takes what scikit-learn's
// decision_function uses: the fitted _gamma (gamma='scale'/'auto' resolved),
// _dual_coef_ and _intercept_ (falling back to dual_coef_, intercept_ and
// -offset_ when absent), support_vectors_, kernel, degree and coef0.
func oneClassParams(o *pickle.Object) (Params, error) {
	st, err := stateDict(o)
	if err != nil {
		return Params{}, err
	}
	get := func(names ...string) (pickle.Value, string, bool) {
		for _, n := range names {
			if v, ok := st.Get(n); ok && v != nil {
				return v, n, true
			}
		}
		return nil, "", false
	}
	if v, _, ok := get("_impl"); ok {
		if s, _ := asString(v); s != "one_class" {
			return Params{}, fmt.Errorf("found a OneClassSVM with _impl %q; %s", s, supportedSklearn)
		}
	}
	if v, _, ok := get("_sparse"); ok {
		if b, _ := v.(bool); b {
			return Params{}, errors.New("OneClassSVM fitted on sparse data is not supported")
		}
	}
	var p Params
	kv, _, ok := get("kernel")
	if !ok {
		return Params{}, errors.New("OneClassSVM has no kernel")
	}
	ks, ok := asString(kv)
	if !ok {
		return Params{}, fmt.Errorf("OneClassSVM kernel is %s; supported kernels: rbf, linear, poly, sigmoid", describe(kv))
	}
	if p.Kernel, err = ParseKernel(ks); err != nil {
		return Params{}, fmt.Errorf("OneClassSVM kernel %q is not supported; supported kernels: rbf, linear, poly, sigmoid", ks)
	}

	gv, gname, ok := get("_gamma", "gamma")
	if !ok {
		return Params{}, errors.New("OneClassSVM has no gamma")
	}
	if s, isStr := asString(gv); isStr {
		return Params{}, fmt.Errorf("OneClassSVM gamma is %q and the fitted _gamma is missing (is it fitted?)", s)
	}
	if p.Gamma, err = toFloat(gv); err != nil {
		return Params{}, fmt.Errorf("OneClassSVM %s: %w", gname, err)
	}
	if v, _, ok := get("coef0"); ok {
		if p.Coef0, err = toFloat(v); err != nil {
			return Params{}, fmt.Errorf("OneClassSVM coef0: %w", err)
		}
	}
	if v, _, ok := get("degree"); ok {
		d, isInt := asInt(v)
		if f, isFloat := v.(float64); isFloat && f == float64(int64(f)) {
			d, isInt = int64(f), true
		}
		if !isInt || d < 0 || d > 1<<20 {
			return Params{}, fmt.Errorf("OneClassSVM degree is %s", valueText(v))
		}
		p.Degree = int(d)
	}

	svv, _, ok := get("support_vectors_")
	if !ok {
		return Params{}, errors.New("OneClassSVM has no support_vectors_ (is it fitted?)")
	}
	sv, err := toArray(svv)
	if err != nil {
		return Params{}, fmt.Errorf("OneClassSVM support_vectors_: %w", err)
	}
	if len(sv.shape) != 2 {
		return Params{}, fmt.Errorf("OneClassSVM support_vectors_ has shape %v, want two dimensions", sv.shape)
	}
	nsv, nf := sv.shape[0], sv.shape[1]
	if nsv == 0 || nf == 0 {
		// Checked before making rows: a shape like (10^12, 0) holds no
		// bytes at all.
		return Params{}, fmt.Errorf("OneClassSVM support_vectors_ has shape %v: no support vectors or no features", sv.shape)
	}
	p.SupportVectors = make([][]float64, nsv)
	for i := range p.SupportVectors {
		p.SupportVectors[i] = sv.data[i*nf : (i+1)*nf : (i+1)*nf]
	}

	dv, dname, ok := get("_dual_coef_", "dual_coef_")
	if !ok {
		return Params{}, errors.New("OneClassSVM has no dual_coef_")
	}
	dual, err := toArray(dv)
	if err != nil {
		return Params{}, fmt.Errorf("OneClassSVM %s: %w", dname, err)
	}
	if len(dual.shape) == 0 || len(dual.shape) > 2 || (len(dual.shape) == 2 && dual.shape[0] != 1) {
		return Params{}, fmt.Errorf("OneClassSVM %s has shape %v, want (1, n_SV)", dname, dual.shape)
	}
	p.DualCoef = dual.data

	if iv, iname, ok := get("_intercept_", "intercept_"); ok {
		if p.Intercept, err = toFloat(iv); err != nil {
			return Params{}, fmt.Errorf("OneClassSVM %s: %w", iname, err)
		}
	} else if ov, _, ok := get("offset_"); ok {
		off, err := toFloat(ov)
		if err != nil {
			return Params{}, fmt.Errorf("OneClassSVM offset_: %w", err)
		}
		p.Intercept = -off
	} else {
		return Params{}, errors.New("OneClassSVM has no intercept_")
	}
	if p.FeatureNames, err = featureNames(o); err != nil {
		return Params{}, err
	}
	return p, nil
}

// featureNames reads an estimator's feature_names_in_ (scikit-learn 1.0 and
// later keep it when fitted on a pandas DataFrame): nil when absent.
func featureNames(o *pickle.Object) ([]string, error) {
	st, err := stateDict(o)
	if err != nil {
		return nil, err
	}
	v, ok := st.Get("feature_names_in_")
	if !ok || v == nil {
		return nil, nil
	}
	names, err := toStrings(v)
	if err != nil {
		return nil, fmt.Errorf("%s feature_names_in_: %w", o.Callable, err)
	}
	return names, nil
}
