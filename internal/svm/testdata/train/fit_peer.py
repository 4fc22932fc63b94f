"""scikit-learn peer of `batchscore bench-train` (run with Debian's /usr/bin/python3).

  fit_peer.py DATA ROWS FEATURES NU REPS

DATA holds ROWS x FEATURES float64 values, little-endian, row after row.
Fits OneClassSVM(kernel="rbf", nu=NU, gamma="scale") REPS times (the caller
sets OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1) and prints JSON: the best
wall-clock and thread CPU seconds of fit, the gamma, the support vector
indices, their alphas (dual_coef_) and rho (-intercept_).
"""
import json
import sys
import time

import numpy as np
from sklearn.svm import OneClassSVM


def main():
    path, rows, nf, nu, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
    X = np.fromfile(path, dtype="<f8").reshape(rows, nf)
    best_wall = best_cpu = float("inf")
    for _ in range(reps):
        w, c = time.perf_counter(), time.thread_time()
        m = OneClassSVM(kernel="rbf", nu=nu, gamma="scale", tol=1e-3, cache_size=200).fit(X)
        best_cpu = min(best_cpu, time.thread_time() - c)
        best_wall = min(best_wall, time.perf_counter() - w)
    json.dump({"seconds": best_wall, "cpu_seconds": best_cpu, "gamma": float(m._gamma),
               "support": [int(i) for i in m.support_], "alpha": [float(a) for a in m.dual_coef_[0]],
               "rho": -float(m.intercept_[0])}, sys.stdout)


if __name__ == "__main__":
    main()
