"""scikit-learn peer for the svm package's tests and for `batchscore bench`.

Run with Debian's /usr/bin/python3 (scikit-learn 1.2.1). Subcommands:

  fit     fit Pipeline(StandardScaler, OneClassSVM(rbf)) on synthetic data with
          about --nsv support vectors, time decision_function on --rows rows
          (best of --reps calls; the caller sets OMP_NUM_THREADS=1
          OPENBLAS_NUM_THREADS=1), write JSON: the fitted params, the rows, the
          decisions and the best wall-clock and thread CPU seconds; optionally the pickled pipeline and the rows
          as a CSV (--pickle, --csv).
  score   the reference's per-model pattern on files: unpickle a model, read
          a CSV with a header, decision_function on the --feature column,
          write the rows with Prediction and Decision columns (as `batchscore
          score` does); prints the seconds of that work as JSON.
  golden  write the golden files the Go tests read: generated.json (sklearn
          models of every kernel and scaler variant with their decisions) and
          reference.json (the 15 reference models' params, exported from their
          pickles, with the expected decisions from expected_predictions.csv).

JSON model params: kernel, gamma, coef0, degree, support_vectors,
dual_coef, intercept (= libsvm's -rho), scaler_mean, scaler_scale (null when
the scaler does not centre or scale, or there is no scaler).
"""
import argparse
import csv
import json
import os
import pickle
import sys
import time

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM


def params_of(pipe):
    if isinstance(pipe, Pipeline):
        scaler, svm = pipe.steps[0][1], pipe.steps[-1][1]
    else:
        scaler, svm = None, pipe
    mean = scale = None
    if scaler is not None:
        if scaler.with_mean:
            mean = [float(v) for v in scaler.mean_]
        if scaler.with_std:
            scale = [float(v) for v in scaler.scale_]
    return {
        "kernel": svm.kernel,
        "gamma": float(svm._gamma),
        "coef0": float(svm.coef0),
        "degree": int(svm.degree),
        "support_vectors": svm.support_vectors_.tolist(),
        "dual_coef": [float(v) for v in svm._dual_coef_[0]],
        "intercept": float(svm._intercept_[0]),
        "scaler_mean": mean,
        "scaler_scale": scale,
    }


def synthetic(rng, n, nf):
    # A two-cluster cloud with per-feature offsets and spreads, so the scaler matters.
    centre = rng.normal(0, 10, nf)
    spread = rng.uniform(0.5, 5, nf)
    X = rng.normal(0, 1, (n, nf))
    X[: n // 3] += 2.0
    return centre + X * spread


def fit_pipe(rng, nf, nsv, kernel="rbf", with_mean=True, with_std=True, scaler=True):
    n_train = max(20, 10 * nsv)
    X = synthetic(rng, n_train, nf)
    svm = OneClassSVM(kernel=kernel, nu=min(0.9, nsv / n_train), gamma="scale", coef0=0.3, degree=3)
    if scaler:
        pipe = Pipeline([("scaler", StandardScaler(with_mean=with_mean, with_std=with_std)), ("classifier", svm)])
    else:
        pipe = svm
    t = time.perf_counter()
    pipe.fit(X)
    return pipe, X, time.perf_counter() - t


def cmd_fit(a):
    rng = np.random.default_rng(a.seed)
    pipe, Xtrain, fit_s = fit_pipe(rng, a.nf, a.nsv)
    X = synthetic(np.random.default_rng(a.seed), a.rows, a.nf) * 1.2
    best = best_cpu = float("inf")
    for _ in range(a.reps):
        t, c = time.perf_counter(), time.thread_time()
        d = pipe.decision_function(X)
        best_cpu = min(best_cpu, time.thread_time() - c)
        best = min(best, time.perf_counter() - t)
    out = params_of(pipe)
    out.update(rows=X.tolist(), decisions=d.tolist(), seconds=best, cpu_seconds=best_cpu, fit_seconds=fit_s)
    with open(a.out, "w") as f:
        json.dump(out, f)
    if a.pickle:
        with open(a.pickle, "wb") as f:
            pickle.dump(pipe, f)
    if a.csv:
        with open(a.csv, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["TS", "Device", "Sensor", "Value"])
            for i, row in enumerate(X[:, 0]):
                s = i * 5
                w.writerow(["2018-08-29 %02d:%02d:%02d.000" % (s // 3600 % 24, s // 60 % 60, s % 60), 1, 1, repr(float(row))])


def cmd_score(a):
    # The reference's predict.py pattern, with the columns of `batchscore score`:
    # every input column unchanged, then Prediction (1 when decision <= 0) and Decision.
    t = time.perf_counter()
    with open(a.model, "rb") as f:
        pipe = pickle.load(f)
    with open(a.input, newline="") as f:
        r = csv.reader(f)
        header = next(r)
        rows = list(r)
    col = header.index(a.feature)
    X = np.array([[float(rec[col])] for rec in rows])
    d = pipe.decision_function(X)
    with open(a.output, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header + ["Prediction", "Decision"])
        for rec, v in zip(rows, d):
            w.writerow(rec + [1 if v <= 0 else 0, repr(float(v))])
    json.dump({"seconds": time.perf_counter() - t, "rows": len(rows)}, sys.stdout)


def cmd_golden(a):
    rng = np.random.default_rng(20260101)
    cases = []
    for kernel in ["rbf", "linear", "poly", "sigmoid"]:
        for nf in [1, 4, 16]:
            for variant in ["scaled", "no_mean", "no_std", "no_scaler"]:
                pipe, Xtrain, _ = fit_pipe(
                    rng, nf, 30, kernel,
                    with_mean=variant != "no_mean", with_std=variant != "no_std", scaler=variant != "no_scaler",
                )
                X = np.vstack([synthetic(rng, 60, nf) * 1.3, Xtrain[:20]])
                case = params_of(pipe)
                case.update(name="%s/nf=%d/%s" % (kernel, nf, variant), rows=X.tolist(),
                            decisions=pipe.decision_function(X).tolist(), predictions=pipe.predict(X).tolist())
                cases.append(case)
    with open(os.path.join(a.dir, "generated.json"), "w") as f:
        json.dump(cases, f)

    # The reference's pickles use scikit-learn 0.19 module paths.
    import sklearn.preprocessing
    import sklearn.svm
    sys.modules.setdefault("sklearn.svm.classes", sklearn.svm)
    sys.modules.setdefault("sklearn.preprocessing.data", sklearn.preprocessing)
    import warnings
    warnings.simplefilter("ignore")
    ref = a.reference
    byModel = {}
    with open(os.path.join(ref, "expected_predictions.csv"), newline="") as f:
        for rec in csv.DictReader(f):
            key = "model_%s_%s" % (rec["Device"], rec["Sensor"])
            m = byModel.setdefault(key, {"values": [], "decisions": [], "predictions": []})
            m["values"].append(float(rec["Val"]))
            m["decisions"].append(float(rec["decision"]))
            m["predictions"].append(int(rec["Prediction"]))
    models = []
    for key in sorted(byModel):
        with open(os.path.join(ref, "models", key), "rb") as f:
            pipe = pickle.load(f)
        m = params_of(pipe)
        m.update(name=key, **byModel[key])
        models.append(m)
    with open(os.path.join(a.dir, "reference.json"), "w") as f:
        json.dump(models, f)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fit")
    f.add_argument("--nf", type=int, required=True)
    f.add_argument("--nsv", type=int, required=True)
    f.add_argument("--rows", type=int, required=True)
    f.add_argument("--reps", type=int, default=3)
    f.add_argument("--seed", type=int, default=1)
    f.add_argument("--out", required=True)
    f.add_argument("--pickle")
    f.add_argument("--csv")
    s = sub.add_parser("score")
    s.add_argument("--model", required=True)
    s.add_argument("--input", required=True)
    s.add_argument("--output", required=True)
    s.add_argument("--feature", default="Value")
    g = sub.add_parser("golden")
    g.add_argument("--dir", required=True)
    g.add_argument("--reference", required=True)
    a = p.parse_args()
    {"fit": cmd_fit, "score": cmd_score, "golden": cmd_golden}[a.cmd](a)


if __name__ == "__main__":
    main()
