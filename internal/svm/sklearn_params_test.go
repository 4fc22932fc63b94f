package svm

import (
	"strings"
	"testing"

	"github.com/batchscore/batchscore/internal/pickle"
	"github.com/google/go-cmp/cmp"
)

func f8(shape pickle.Tuple, vs ...float64) *pickle.Object {
	return npReconstruct(shape, npDtype("f8", "<"), false, le64(vs...))
}

// ocsvm builds a fitted OneClassSVM node (scikit-learn 1.x class path) with
// two support vectors of two features, then applies edit to its state.
func ocsvm(edit func(d *pickle.Dict)) *pickle.Object {
	d := pickle.NewDict()
	for _, kv := range []struct {
		k string
		v pickle.Value
	}{
		{"_impl", "one_class"}, {"kernel", "rbf"}, {"degree", int64(3)}, {"gamma", "scale"},
		{"coef0", 0.0}, {"_sparse", false}, {"_gamma", 0.5},
		{"support_vectors_", f8(npShape(2, 2), 1, 2, 3, 4)},
		{"_dual_coef_", f8(npShape(1, 2), 0.25, 0.75)},
		{"dual_coef_", f8(npShape(1, 2), 0.25, 0.75)},
		{"_intercept_", f8(npShape(1), -0.5)},
		{"intercept_", f8(npShape(1), -0.5)},
		{"offset_", f8(npShape(1), 0.5)},
	} {
		d.Set(kv.k, kv.v)
	}
	if edit != nil {
		edit(d)
	}
	return &pickle.Object{Callable: pickle.Global{Module: "sklearn.svm._classes", Name: "OneClassSVM"}, New: true, State: d, HasState: true}
}

func scaler(edit func(d *pickle.Dict)) *pickle.Object {
	d := pickle.NewDict()
	d.Set("with_mean", true)
	d.Set("with_std", true)
	d.Set("mean_", f8(npShape(2), 10, 20))
	d.Set("scale_", f8(npShape(2), 2, 4))
	if edit != nil {
		edit(d)
	}
	return &pickle.Object{Callable: pickle.Global{Module: "sklearn.preprocessing._data", Name: "StandardScaler"}, New: true, State: d, HasState: true}
}

func pipeline(steps ...pickle.Value) *pickle.Object {
	l := &pickle.List{}
	for i, s := range steps {
		l.Items = append(l.Items, pickle.Tuple{"step" + string(rune('a'+i)), s})
	}
	d := pickle.NewDict()
	d.Set("steps", l)
	d.Set("memory", nil)
	return &pickle.Object{Callable: pickle.Global{Module: "sklearn.pipeline", Name: "Pipeline"}, New: true, State: d, HasState: true}
}

func TestParamsFromTree(t *testing.T) {
	base := Params{Kernel: RBF, Gamma: 0.5, Degree: 3, SupportVectors: [][]float64{{1, 2}, {3, 4}},
		DualCoef: []float64{0.25, 0.75}, Intercept: -0.5}
	with := func(edit func(p *Params)) Params {
		p := base
		edit(&p)
		return p
	}
	tests := []struct {
		name string
		tree pickle.Value
		want Params
	}{
		{"bare OneClassSVM", ocsvm(nil), base},
		{"0.19-style: no underscored copies", ocsvm(func(d *pickle.Dict) {
			d.Set("_dual_coef_", nil)
			d.Set("_intercept_", nil)
			d.Set("intercept_", f8(npShape(1), -0.5))
		}), base},
		{"only offset_", ocsvm(func(d *pickle.Dict) {
			d.Set("_intercept_", nil)
			d.Set("intercept_", nil)
			d.Set("offset_", f8(npShape(1), 0.125))
		}), with(func(p *Params) { p.Intercept = -0.125 })},
		{"_gamma wins over gamma", ocsvm(func(d *pickle.Dict) { d.Set("gamma", 9.0) }), base},
		{"numeric gamma without _gamma", ocsvm(func(d *pickle.Dict) { d.Set("_gamma", nil); d.Set("gamma", 0.5) }), base},
		{"numpy scalar _gamma", ocsvm(func(d *pickle.Dict) {
			d.Set("_gamma", &pickle.Object{Callable: pickle.Global{Module: "numpy.core.multiarray", Name: "scalar"},
				Args: pickle.Tuple{npDtype("f8", "<"), le64(0.5)}})
		}), base},
		{"poly, Python 2 strings", ocsvm(func(d *pickle.Dict) {
			d.Set("kernel", []byte("poly"))
			d.Set("coef0", 1.0)
			d.Set("degree", int64(2))
		}), with(func(p *Params) { p.Kernel, p.Coef0, p.Degree = Poly, 1, 2 })},
		{"pipeline with scaler", pipeline(scaler(nil), ocsvm(nil)),
			with(func(p *Params) { p.ScalerMean, p.ScalerScale = []float64{10, 20}, []float64{2, 4} })},
		{"with_mean=False", pipeline(scaler(func(d *pickle.Dict) { d.Set("with_mean", false); d.Set("mean_", nil) }), ocsvm(nil)),
			with(func(p *Params) { p.ScalerScale = []float64{2, 4} })},
		{"with_std=False", pipeline(scaler(func(d *pickle.Dict) { d.Set("with_std", false); d.Set("scale_", nil) }), ocsvm(nil)),
			with(func(p *Params) { p.ScalerMean = []float64{10, 20} })},
		{"passthrough and None steps", pipeline("passthrough", nil, scaler(nil), ocsvm(nil)),
			with(func(p *Params) { p.ScalerMean, p.ScalerScale = []float64{10, 20}, []float64{2, 4} })},
		{"pipeline of the SVM alone", pipeline(ocsvm(nil)), base},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := paramsFromTree(tc.tree)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParamsFromTreeErrors(t *testing.T) {
	other := &pickle.Object{Callable: pickle.Global{Module: "sklearn.preprocessing._data", Name: "StandardScaler"}, State: pickle.NewDict(), HasState: true}
	tests := []struct {
		name string
		tree pickle.Value
		want string
	}{
		{"a list", &pickle.List{}, "found a list; supported: a scikit-learn OneClassSVM"},
		{"an int", int64(3), "found an int; supported"},
		{"None", nil, "found None; supported"},
		{"scaler alone", scaler(nil), "found sklearn.preprocessing._data.StandardScaler; supported"},
		{"pipeline ending in a scaler", pipeline(ocsvm(nil), scaler(nil)), "found a Pipeline ending in sklearn.preprocessing._data.StandardScaler; supported"},
		{"two scalers", pipeline(scaler(nil), scaler(nil), ocsvm(nil)), "found a Pipeline of 3 steps; supported"},
		{"empty pipeline", pipeline("passthrough"), "found an empty Pipeline; supported"},
		{"SVM before SVM", pipeline(ocsvm(nil), ocsvm(nil)), "found a Pipeline step sklearn.svm._classes.OneClassSVM before the OneClassSVM"},
		{"step is not an estimator", pipeline(int64(1), ocsvm(nil)), "found an int; supported"},
		{"unfitted scaler", pipeline(scaler(func(d *pickle.Dict) { d.Set("mean_", nil) }), ocsvm(nil)), "StandardScaler has no mean_ (is it fitted?)"},
		{"empty scaler state", pipeline(other, ocsvm(nil)), "StandardScaler has no mean_"},
		{"2-D scaler mean", pipeline(scaler(func(d *pickle.Dict) { d.Set("mean_", f8(npShape(1, 2), 1, 2)) }), ocsvm(nil)), "StandardScaler mean_ has shape [1 2], want one dimension"},
		{"svc impl", ocsvm(func(d *pickle.Dict) { d.Set("_impl", "c_svc") }), `found a OneClassSVM with _impl "c_svc"`},
		{"sparse", ocsvm(func(d *pickle.Dict) { d.Set("_sparse", true) }), "OneClassSVM fitted on sparse data is not supported"},
		{"callable kernel", ocsvm(func(d *pickle.Dict) { d.Set("kernel", &pickle.Object{Callable: pickle.Global{Module: "m", Name: "k"}}) }), "OneClassSVM kernel is m.k; supported kernels"},
		{"unknown kernel", ocsvm(func(d *pickle.Dict) { d.Set("kernel", "laplacian") }), `OneClassSVM kernel "laplacian" is not supported`},
		{"unfitted gamma", ocsvm(func(d *pickle.Dict) { d.Set("_gamma", nil) }), `OneClassSVM gamma is "scale" and the fitted _gamma is missing`},
		{"negative degree", ocsvm(func(d *pickle.Dict) { d.Set("degree", int64(-1)) }), "OneClassSVM degree is -1"},
		{"no support vectors", ocsvm(func(d *pickle.Dict) { d.Set("support_vectors_", nil) }), "OneClassSVM has no support_vectors_ (is it fitted?)"},
		{"support vectors of no features", ocsvm(func(d *pickle.Dict) { d.Set("support_vectors_", f8(npShape(1e12, 0))) }), "support_vectors_ has shape [1000000000000 0]: no support vectors or no features"},
		{"no support vector rows", ocsvm(func(d *pickle.Dict) { d.Set("support_vectors_", f8(npShape(0, 3))) }), "support_vectors_ has shape [0 3]: no support vectors or no features"},
		{"1-D support vectors", ocsvm(func(d *pickle.Dict) { d.Set("support_vectors_", f8(npShape(2), 1, 2)) }), "support_vectors_ has shape [2], want two dimensions"},
		{"dual_coef_ of two rows", ocsvm(func(d *pickle.Dict) { d.Set("_dual_coef_", f8(npShape(2, 1), 1, 2)) }), "OneClassSVM _dual_coef_ has shape [2 1], want (1, n_SV)"},
		{"no intercept", ocsvm(func(d *pickle.Dict) { d.Set("_intercept_", nil); d.Set("intercept_", nil); d.Set("offset_", nil) }), "OneClassSVM has no intercept_"},
		{"state not a dict", &pickle.Object{Callable: pickle.Global{Module: "sklearn.svm.classes", Name: "OneClassSVM"}, State: pickle.Tuple{}, HasState: true}, "sklearn.svm.classes.OneClassSVM state is tuple, not a dict"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := paramsFromTree(tc.tree)
			if err == nil {
				t.Fatalf("got %+v, want an error", p)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}
