"""Writes one version set of the model matrix that internal/svm's
TestVersionMatrix reads. make_matrix.sh runs it once per set, each time in
that set's own venv (pinned scikit-learn, numpy, joblib, pandas, lz4):

    python make_matrix.py OUT_DIR

It writes into OUT_DIR (emptied first):
  models/NAME.{pkl,joblib}  the fitted models, one per row of manifest.csv
  manifest.csv  file,format,data,estimator,kernel,gamma,n_features,feature_names,n_sv
  expected.csv  file,row,x,decision,predict: the set's own decision_function
                (17 significant digits) and predict on a few rows, x being
                the row's feature values separated by spaces
  refused/NAME  files the Go loaders must refuse (an estimator they do not
                read), listed in refused.csv: file,class
  versions.csv  package,version of what wrote the files

The matrix per set is not the full cartesian product. What a file looks
like depends on the estimator tree (bare OneClassSVM or a Pipeline with a
StandardScaler), on how it was fitted (NumPy array, or pandas DataFrame
which adds feature_names_in_) and on the format; kernel and gamma only
change numbers. So every (data, estimator) pair is fitted 9 times, once
per format and through the 8 kernel x gamma combinations (the 9th
repeats the first), the formats rotated by a different offset for each
pair: 36 models per set, every (data, estimator) pair in every format and
with every kernel and gamma, every format with several kernels. Fixed seeds: the same venv writes the same files again.
"""
import csv
import importlib.metadata
import os
import pickle
import platform
import shutil
import sys

import joblib
import numpy as np
import pandas as pd
from sklearn.linear_model import SGDOneClassSVM
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.svm import OneClassSVM

KERNELS = ["rbf", "linear", "poly", "sigmoid"]
GAMMAS = ["scale", "auto"]
DATA = ["array", "frame"]
ESTIMATORS = ["bare", "pipeline"]
# pickle protocols 4 and 5; joblib uncompressed and with each compressor
# joblib offers (lz4 needs the lz4 package).
FORMATS = ["pickle4", "pickle5", "joblib", "joblib-zlib", "joblib-gzip",
           "joblib-bz2", "joblib-lzma", "joblib-xz", "joblib-lz4"]
COMBOS = [(k, gm) for k in KERNELS for gm in GAMMAS]
NAMES = ["temperature", "pressure", "flow", "level"]
N_TRAIN, N_TEST = 40, 6


def data(nf, seed):
    """Training rows and test rows (wider, so both labels occur)."""
    rng = np.random.RandomState(seed)
    loc = rng.uniform(-2, 2, nf)
    sd = rng.uniform(0.5, 2, nf)
    train = loc + sd * rng.randn(N_TRAIN, nf)
    test = loc + 2.0 * sd * rng.randn(N_TEST, nf)
    return train, test


def columns(nf):
    # A single-feature model is named after the reading it scores.
    return ["Value"] if nf == 1 else NAMES[:nf]


def save(obj, path, fmt):
    if fmt.startswith("pickle"):
        with open(path, "wb") as f:
            pickle.dump(obj, f, protocol=int(fmt[len("pickle"):]))
        return
    compress = 0 if fmt == "joblib" else (fmt[len("joblib-"):], 3)
    joblib.dump(obj, path, compress=compress)


def main():
    out = sys.argv[1]
    models = os.path.join(out, "models")
    refused = os.path.join(out, "refused")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(models)
    os.makedirs(refused)

    manifest, expected = [], []
    i = 0
    for g, (dkind, est) in enumerate((d, e) for d in DATA for e in ESTIMATORS):
        for c in range(len(FORMATS)):
            kernel, gamma = COMBOS[c % len(COMBOS)]
            nf = 1 + (c + g) % 4
            x, rows = data(nf, 100 + i)
            fmt = FORMATS[(c + 2 * g) % len(FORMATS)]
            svm = OneClassSVM(kernel=kernel, gamma=gamma, nu=0.25, coef0=0.5, degree=3)
            model = Pipeline([("scaler", StandardScaler()), ("svm", svm)]) if est == "pipeline" else svm
            if dkind == "frame":
                x = pd.DataFrame(x, columns=columns(nf))
                rows = pd.DataFrame(rows, columns=columns(nf))
            model.fit(x)
            names = list(getattr(model, "feature_names_in_", []))
            assert (dkind == "frame") == bool(names)
            name = "%s_%s_%s_%s_%s" % (est, dkind, kernel, gamma, fmt)
            ext = ".pkl" if fmt.startswith("pickle") else ".joblib"
            save(model, os.path.join(models, name + ext), fmt)
            for r, (xr, d, p) in enumerate(zip(np.asarray(rows), model.decision_function(rows), model.predict(rows))):
                expected.append([name + ext, r, " ".join("%.17g" % v for v in xr), "%.17g" % d, int(p)])
            n_sv = (model.steps[-1][1] if est == "pipeline" else model).support_vectors_.shape[0]
            manifest.append([name + ext, fmt, dkind, est, kernel, gamma, nf, ";".join(names), n_sv])
            i += 1

    with open(os.path.join(out, "manifest.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["file", "format", "data", "estimator", "kernel", "gamma", "n_features", "feature_names", "n_sv"])
        w.writerows(manifest)
    with open(os.path.join(out, "expected.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["file", "row", "x", "decision", "predict"])
        w.writerows(expected)

    # Estimators the loaders do not read: each must be refused with a message
    # naming its class and the scikit-learn version that wrote it.
    x, _ = data(2, 7)
    bad = [
        ("sgd_one_class_svm.pkl", SGDOneClassSVM(random_state=0).fit(x), "pickle5"),
        ("minmax_pipeline.joblib",
         Pipeline([("scaler", MinMaxScaler()), ("svm", OneClassSVM())]).fit(x), "joblib-zlib"),
    ]
    rows = []
    for fn, obj, fmt in bad:
        save(obj, os.path.join(refused, fn), fmt)
        cls = obj.steps[0][1] if isinstance(obj, Pipeline) else obj
        rows.append([fn, type(cls).__module__ + "." + type(cls).__name__])
    with open(os.path.join(out, "refused.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["file", "class"])
        w.writerows(rows)

    with open(os.path.join(out, "versions.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["package", "version"])
        w.writerow(["python", platform.python_version()])
        for p in ["scikit-learn", "numpy", "scipy", "joblib", "pandas", "lz4"]:
            w.writerow([p, importlib.metadata.version(p)])


if __name__ == "__main__":
    main()
