#!/usr/bin/python3
"""Writes the scikit-learn model matrix that internal/svm's tests read.

Run from this directory with Debian's Python (scikit-learn 1.2.1, numpy 1.24,
joblib 1.2):

    /usr/bin/python3 make_models.py

It writes, next to itself:
  models/NAME.{pkl,joblib}  one fitted model per row of models.csv
  models.csv               name,file,format,n_features,note
  rows_NF.csv              test rows (NF columns, no header) per feature count
  expected.csv             model,row,decision,predict: scikit-learn's
                           decision_function (17 significant digits) and
                           predict on every test row of the model's NF
  errors/NAME              files that are not supported models (the Go test
                           holds their one-line errors in errors.golden)

Variants that change how arrays are stored (float32, big-endian, Fortran
order) are made from a copy of a fitted model after the expected values were
computed on the original, with values that survive the conversion exactly.
Fixed seeds: running it again gives the same models.
"""
import copy
import csv
import io
import os
import pickle
import shutil
import struct

import joblib
import joblib.numpy_pickle
import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.svm import SVC, OneClassSVM

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "models")
ERRORS = os.path.join(HERE, "errors")
FEATURES = [1, 2, 4, 7, 16]
KERNELS = ["rbf", "linear", "poly", "sigmoid"]
FORMATS = ["pickle2", "pickle3", "pickle4", "pickle5", "joblib", "joblib-zlib", "joblib-gzip"]
N_TRAIN, N_TEST = 60, 25


def train(nf, seed):
    rng = np.random.RandomState(seed)
    # Features on different scales and offsets so that the scaler matters.
    loc = rng.uniform(-50, 50, nf)
    sd = rng.uniform(0.5, 20, nf)
    return loc + sd * rng.randn(N_TRAIN, nf), loc, sd


def test_rows(nf):
    rng = np.random.RandomState(1000 + nf)
    _, loc, sd = train(nf, nf)
    # Wider than the training data, so that both labels occur.
    return loc + 2.5 * sd * rng.randn(N_TEST, nf)


class Py2Pickler(pickle._Pickler):
    """Writes bytes and ASCII str as Python 2's str (SHORT_BINSTRING,
    BINSTRING), as scikit-learn 0.19 on Python 2.7 pickled attribute names
    and numpy array data, instead of Python 3's _codecs.encode reductions."""

    dispatch = pickle._Pickler.dispatch.copy()

    def _binstring(self, data, obj):
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    def save_bytes(self, obj):
        self._binstring(obj, obj)

    def save_str(self, obj):
        if obj.isascii():
            self._binstring(obj.encode("ascii"), obj)
        else:
            pickle._Pickler.save_str(self, obj)

    dispatch[bytes] = save_bytes
    dispatch[str] = save_str


def save(obj, name, fmt):
    os.makedirs(MODELS, exist_ok=True)
    if fmt == "pickle2-py2":
        fn = name + ".pkl"
        buf = io.BytesIO()
        Py2Pickler(buf, protocol=2).dump(obj)
        with open(os.path.join(MODELS, fn), "wb") as f:
            f.write(buf.getvalue())
        return fn
    if fmt.startswith("pickle-numpy2-"):
        # numpy 2 moved numpy.core to numpy._core; GLOBAL names are plain
        # text in protocols 2 and 3, so the rename needs no length fix.
        fn = name + ".pkl"
        data = pickle.dumps(obj, protocol=int(fmt[-1]))
        assert b"cnumpy.core." in data
        with open(os.path.join(MODELS, fn), "wb") as f:
            f.write(data.replace(b"cnumpy.core.", b"cnumpy._core."))
        return fn
    if fmt.startswith("pickle"):
        fn = name + ".pkl"
        with open(os.path.join(MODELS, fn), "wb") as f:
            pickle.dump(obj, f, protocol=int(fmt[len("pickle"):]))
        return fn
    fn = name + ".joblib"
    compress = 0 if fmt == "joblib" else (fmt[len("joblib-"):], 3)
    joblib.dump(obj, os.path.join(MODELS, fn), compress=compress)
    return fn


def svm_of(model):
    return model.steps[-1][1] if isinstance(model, Pipeline) else model


def main():
    shutil.rmtree(MODELS, ignore_errors=True)
    shutil.rmtree(ERRORS, ignore_errors=True)
    rows = {nf: test_rows(nf) for nf in FEATURES}
    for nf, x in rows.items():
        with open(os.path.join(HERE, "rows_%d.csv" % nf), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            for r in x:
                w.writerow(["%.17g" % v for v in r])

    manifest, expected = [], []

    def add(name, model, fmt, nf, note="", stored=None):
        """Record sklearn's answers for model, then save stored (or model)."""
        x = rows[nf]
        dec = model.decision_function(x)
        pred = model.predict(x)
        for i, (d, p) in enumerate(zip(dec, pred)):
            expected.append([name, i, "%.17g" % d, int(p)])
        fn = save(model if stored is None else stored, name, fmt)
        manifest.append([name, fn, fmt, nf, note])

    i = 0
    for kernel in KERNELS:
        for nf in FEATURES:
            for scaled in (False, True):
                x, _, _ = train(nf, nf)
                svm = OneClassSVM(kernel=kernel, nu=0.3, gamma=0.5 / nf, coef0=0.25, degree=3)
                if kernel in ("poly", "sigmoid", "linear") and not scaled:
                    svm.set_params(gamma=0.5 / (nf * 400.0))
                model = Pipeline([("scaler", StandardScaler()), ("classifier", svm)]) if scaled else svm
                model.fit(x)
                fmt = FORMATS[i % len(FORMATS)]
                i += 1
                name = "%s_nf%d_%s_%s" % (kernel, nf, "scaled" if scaled else "plain", fmt)
                add(name, model, fmt, nf)

    x4, _, _ = train(4, 4)

    def fitted(**kw):
        return Pipeline([("scaler", StandardScaler()), ("classifier", OneClassSVM(nu=0.3, **kw))]).fit(x4)

    # Every format on one model, so each loader path sees the same numbers.
    for fmt in FORMATS + ["pickle0", "pickle1", "joblib-bz2", "joblib-lzma", "joblib-xz"]:
        add("rbf_nf4_every_" + fmt, fitted(gamma=0.1), fmt, 4, "same model in every format")
    # Joblib with each pickle protocol.
    for proto in (2, 3, 4, 5):
        m = fitted(gamma=0.1)
        name = "rbf_nf4_joblib_protocol%d" % proto
        dec = m.decision_function(rows[4])
        for k, (d, p) in enumerate(zip(dec, m.predict(rows[4]))):
            expected.append([name, k, "%.17g" % d, int(p)])
        joblib.dump(m, os.path.join(MODELS, name + ".joblib"), protocol=proto)
        manifest.append([name, name + ".joblib", "joblib", 4, "protocol %d" % proto])

    add("rbf_nf4_py2_strings", fitted(gamma=0.1), "pickle2-py2", 4, "Python 2 style str (BINSTRING) keys and array data")
    add("poly_nf7_py2_strings", Pipeline([("scaler", StandardScaler()), ("svm", OneClassSVM(kernel="poly", nu=0.3, gamma=0.05, coef0=1.0))]).fit(train(7, 7)[0]),
        "pickle2-py2", 7, "Python 2 style strings, poly kernel")
    for proto in (2, 3):
        add("rbf_nf4_numpy2_paths_protocol%d" % proto, fitted(gamma="scale"), "pickle-numpy2-%d" % proto, 4, "numpy._core module paths")
    # joblib <= 1.1 wrote no alignment padding (and its wrappers have no
    # numpy_array_alignment_bytes); scikit-learn 0.19-0.20 users often saved
    # with the vendored sklearn.externals.joblib of that kind.
    for variant in ("joblib-legacy", "joblib-sklearn-externals"):
        m = fitted(gamma=0.1)
        name = "rbf_nf4_" + variant
        dec = m.decision_function(rows[4])
        for k, (d, p) in enumerate(zip(dec, m.predict(rows[4]))):
            expected.append([name, k, "%.17g" % d, int(p)])
        path = os.path.join(MODELS, name + ".joblib")
        original = joblib.numpy_pickle.NumpyArrayWrapper.__init__

        def legacy_init(self, *args, **kw):
            original(self, *args, **kw)
            del self.numpy_array_alignment_bytes

        joblib.numpy_pickle.NumpyArrayWrapper.__init__ = legacy_init
        try:
            joblib.dump(m, path, protocol=3)
        finally:
            joblib.numpy_pickle.NumpyArrayWrapper.__init__ = original
        with open(path, "rb") as f:
            data = f.read()
        assert b"numpy_array_alignment_bytes" not in data
        if variant == "joblib-sklearn-externals":
            assert b"cjoblib.numpy_pickle\n" in data
            data = data.replace(b"cjoblib.numpy_pickle\n", b"csklearn.externals.joblib.numpy_pickle\n")
            with open(path, "wb") as f:
                f.write(data)
        manifest.append([name, name + ".joblib", "joblib", 4, variant])

    # Fitted on a DataFrame, both steps keep feature_names_in_, an array of
    # Python str objects (joblib writes it as a nested pickle in the stream).
    for fmt in ("pickle2", "pickle5", "joblib", "joblib-gzip"):
        m = fitted(gamma=0.1)
        stored = copy.deepcopy(m)
        names = np.array(["temperature", "pressure", "flow", "level"], dtype=object)
        for _, step in stored.steps:
            step.feature_names_in_ = names
        add("rbf_nf4_feature_names_" + fmt, m, fmt, 4, "feature_names_in_ object arrays", stored)

    # A RandomState object kept as random_state (OneClassSVM ignores it).
    for fmt in ("pickle3", "joblib-zlib"):
        m = fitted(gamma=0.1)
        stored = copy.deepcopy(m)
        stored.steps[1][1].random_state = np.random.RandomState(7)
        add("rbf_nf4_random_state_" + fmt, m, fmt, 4, "a RandomState object in the state", stored)

    add("rbf_nf4_gamma_scale_pickle5", fitted(gamma="scale"), "pickle5", 4, "gamma='scale': uses fitted _gamma")
    add("rbf_nf4_gamma_auto_pickle4", fitted(gamma="auto"), "pickle4", 4, "gamma='auto'")
    for fmt in ("pickle3", "joblib"):
        m = Pipeline([("scaler", StandardScaler(with_mean=False)), ("classifier", OneClassSVM(nu=0.3, gamma=0.1))]).fit(x4)
        add("rbf_nf4_no_mean_" + fmt, m, fmt, 4, "with_mean=False")
        m = Pipeline([("scaler", StandardScaler(with_std=False)), ("classifier", OneClassSVM(nu=0.3, gamma=0.002))]).fit(x4)
        add("rbf_nf4_no_std_" + fmt, m, fmt, 4, "with_std=False")
    m = make_pipeline(StandardScaler(), OneClassSVM(nu=0.3, gamma=0.1)).fit(x4)
    add("rbf_nf4_make_pipeline_pickle4", m, "pickle4", 4, "make_pipeline step names")
    m = Pipeline([("pre", "passthrough"), ("s", StandardScaler()), ("svm", OneClassSVM(nu=0.3, gamma=0.1))]).fit(x4)
    add("rbf_nf4_passthrough_pickle5", m, "pickle5", 4, "a passthrough step")
    m = OneClassSVM(nu=0.3, gamma="scale").fit(x4)
    add("rbf_nf4_bare_gamma_scale_joblib-zlib", m, "joblib-zlib", 4, "OneClassSVM alone, gamma='scale'")

    # Storage variants: the expected values come from the original model,
    # whose numbers are first made exactly representable in the variant.
    def f32_exact(a):
        return a.astype(np.float32).astype(np.float64)

    for fmt in ("pickle2", "pickle4", "pickle5", "joblib", "joblib-gzip"):
        m = fitted(gamma=0.1)
        sc, sv = m.steps[0][1], m.steps[1][1]
        sc.mean_, sc.scale_ = f32_exact(sc.mean_), f32_exact(sc.scale_)
        stored = copy.deepcopy(m)
        stored.steps[0][1].mean_ = sc.mean_.astype(np.float32)
        stored.steps[0][1].scale_ = sc.scale_.astype(np.float32)
        sv2 = stored.steps[1][1]
        exact_sv = f32_exact(sv.support_vectors_)
        sv.support_vectors_ = exact_sv  # decision_function uses this one
        sv2.support_vectors_ = exact_sv.astype(np.float32)
        add("rbf_nf4_float32_" + fmt, m, fmt, 4, "float32 scaler and support vectors", stored)

        m = fitted(gamma=0.1)
        stored = copy.deepcopy(m)
        sc2, sv2 = stored.steps[0][1], stored.steps[1][1]
        sc2.mean_, sc2.scale_ = sc2.mean_.astype(">f8"), sc2.scale_.astype(">f8")
        sv2.support_vectors_ = sv2.support_vectors_.astype(">f8")
        sv2._dual_coef_ = sv2._dual_coef_.astype(">f8")
        sv2.dual_coef_ = sv2._dual_coef_
        sv2._intercept_ = sv2._intercept_.astype(">f8")
        add("rbf_nf4_bigendian_" + fmt, m, fmt, 4, "big-endian arrays", stored)

        m = fitted(gamma=0.1)
        stored = copy.deepcopy(m)
        sv2 = stored.steps[1][1]
        sv2.support_vectors_ = np.asfortranarray(sv2.support_vectors_)
        assert sv2.support_vectors_.flags.f_contiguous and not sv2.support_vectors_.flags.c_contiguous
        add("rbf_nf4_fortran_" + fmt, m, fmt, 4, "Fortran-ordered support vectors", stored)

    with open(os.path.join(HERE, "models.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["name", "file", "format", "n_features", "note"])
        w.writerows(manifest)
    with open(os.path.join(HERE, "expected.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["model", "row", "decision", "predict"])
        w.writerows(expected)

    # Files that are not supported models.
    os.makedirs(ERRORS)
    x2, _, _ = train(2, 2)

    def dump(name, obj, protocol=4):
        with open(os.path.join(ERRORS, name), "wb") as f:
            pickle.dump(obj, f, protocol=protocol)

    dump("isolation_forest.pkl", IsolationForest(n_estimators=3, random_state=0).fit(x2))
    dump("svc.pkl", SVC().fit(x2, (x2[:, 0] > np.median(x2[:, 0])).astype(int)))
    dump("minmax_pipeline.pkl", Pipeline([("scaler", MinMaxScaler()), ("svm", OneClassSVM())]).fit(x2))
    dump("scaler_only.pkl", StandardScaler().fit(x2))
    dump("dict.pkl", {"model": "not one", "version": 1})
    dump("unfitted_svm.pkl", OneClassSVM())
    dump("precomputed_kernel.pkl", OneClassSVM(kernel="precomputed").fit(x2 @ x2.T))
    good = pickle.dumps(fitted(gamma=0.1), protocol=4)
    with open(os.path.join(ERRORS, "truncated.pkl"), "wb") as f:
        f.write(good[: len(good) // 2])
    open(os.path.join(ERRORS, "empty.pkl"), "wb").close()
    joblib.dump(fitted(gamma=0.1), os.path.join(ERRORS, "truncated.joblib"))
    with open(os.path.join(ERRORS, "truncated.joblib"), "r+b") as f:
        n = f.seek(0, 2)
        f.truncate(n - 40)


if __name__ == "__main__":
    main()
