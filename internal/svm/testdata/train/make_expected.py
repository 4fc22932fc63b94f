"""Regenerates the expected one-class fits in this folder (test data only).

Run: /usr/bin/python3 make_expected.py   (needs Debian's libsvm-tools 3.24 and
python3-sklearn 1.2.1). For each case of CASES it generates the training and
held-out rows with the same arithmetic as train_test.go's genRows (splitmix64
uniforms, a sum of twelve for a normal), fits them with `svm-train -s 2` and
with scikit-learn's OneClassSVM, and writes NAME.json:

  libsvm:  the support vectors' row indices, alphas and rho of the svm-train
           model (rows matched in order: svm-train writes its support vectors
           in row order, to 8 significant digits);
  sklearn: support_, dual_coef_, intercept_, the gamma used, the scaler's
           mean_ and scale_ (if any) and decision_function of the held-out rows.

check is the sum of all generated values, which the Go test recomputes to
prove that both sides saw the same rows.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

M64 = (1 << 64) - 1
HELD_OUT = 200

# name, rows, features, kernel, nu, gamma, coef0, degree, scale
# (gamma a number exact in float32, since svm-train reads -n and -g as floats
# (the Go test fits the libsvm side with nu rounded to float32); gamma "scale"
# and "auto" are resolved by scikit-learn only: those cases, and the scaled
# ones, have no libsvm part)
CASES = [
    ("rbf_n300_f1", 300, 1, "rbf", 0.125, 0.5, 0.0, 3, False),
    ("rbf_n1000_f2", 1000, 2, "rbf", 0.0625, 0.25, 0.0, 3, False),
    ("rbf_n2000_f4_scale", 2000, 4, "rbf", 0.125, "scale", 0.0, 3, True),
    ("rbf_n3000_f16", 3000, 16, "rbf", 0.5, 0.03125, 0.0, 3, False),
    ("rbf_n5000_f8", 5000, 8, "rbf", 0.25, 0.0625, 0.0, 3, False),
    ("rbf_n10000_f16_scale", 10000, 16, "rbf", 0.0625, "scale", 0.0, 3, True),
    ("rbf_n20000_f1", 20000, 1, "rbf", 0.125, 0.5, 0.0, 3, False),
    ("rbf_n1500_f3_auto", 1500, 3, "rbf", 0.375, "auto", 0.0, 3, True),
    ("linear_n500_f3", 500, 3, "linear", 0.125, 0.5, 0.0, 3, False),
    ("poly_n800_f2", 800, 2, "poly", 0.25, 0.5, 1.0, 3, False),
    ("sigmoid_n600_f4", 600, 4, "sigmoid", 0.1875, 0.125, -0.5, 3, False),
    # nu*rows not exact: scikit-learn and libsvm start from different points,
    # and svm-train reads nu 0.3 as 0.30000001192092896.
    # On these two the two starting points lead to other support vectors.
    ("rbf_n700_f2_nu0.3", 700, 2, "rbf", 0.3, 0.5, 0.0, 3, False),
    ("rbf_n2500_f2_nu0.05", 2500, 2, "rbf", 0.05, 0.5, 0.0, 3, False),
]
KERNEL_T = {"linear": 0, "poly": 1, "rbf": 2, "sigmoid": 3}


class SplitMix:
    def __init__(self, seed):
        self.s = seed & M64

    def uniform(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & M64
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        z ^= z >> 31
        return (z >> 11) * (1.0 / 9007199254740992.0)


def gen_rows(seed, n, nf):
    """Two clusters, feature j spread 1+0.2j, 3 % of rows stretched 4x."""
    r = SplitMix(seed)
    rows = []
    for _ in range(n):
        far = r.uniform() < 0.3
        stretch = r.uniform() < 0.03
        row = []
        for j in range(nf):
            g = 0.0
            for _ in range(12):
                g += r.uniform()
            g -= 6.0
            v = (3.0 if far else 0.0) + 0.5 * j + (1.0 + 0.2 * j) * g
            if stretch:
                v *= 4.0
            row.append(v)
        rows.append(row)
    return rows


def check_sum(rows):
    s = 0.0
    for row in rows:
        for v in row:
            s += v
    return s


def libsvm_fit(name, x, kernel, nu, gamma, coef0, degree, tmp):
    train = os.path.join(tmp, name + ".train")
    model = os.path.join(tmp, name + ".model")
    with open(train, "w") as f:
        for row in x:
            f.write("1 " + " ".join("%d:%r" % (j + 1, v) for j, v in enumerate(row)) + "\n")
    subprocess.run(["svm-train", "-q", "-s", "2", "-t", str(KERNEL_T[kernel]), "-n", repr(nu),
                    "-g", repr(gamma), "-r", repr(coef0), "-d", str(degree), "-e", "0.001",
                    "-m", "200", "-h", "1", train, model], check=True)
    rho, svs, in_sv = None, [], False
    with open(model) as f:
        for line in f:
            t = line.split()
            if in_sv:
                svs.append((float(t[0]), [float(p.split(":")[1]) for p in t[1:]]))
            elif t[0] == "rho":
                rho = float(t[1])
            elif t[0] == "SV":
                in_sv = True
    support, k = [], 0
    for i, row in enumerate(x):
        if k < len(svs) and all(float("%.8g" % v) == w for v, w in zip(row, svs[k][1])):
            support.append(i)
            k += 1
    assert k == len(svs), (name, k, len(svs))
    return {"support": support, "alpha": [a for a, _ in svs], "rho": rho}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as tmp:
        for seed, (name, n, nf, kernel, nu, gamma, coef0, degree, scale) in enumerate(CASES, 1):
            rows = gen_rows(seed, n + HELD_OUT, nf)
            x, held = rows[:n], rows[n:]
            X, H = np.array(x), np.array(held)
            out = {"rows": n, "features": nf, "seed": seed, "held_out": HELD_OUT, "kernel": kernel,
                   "nu": nu, "gamma": gamma if isinstance(gamma, str) else repr(gamma),
                   "coef0": coef0, "degree": degree, "scale": scale, "check": check_sum(rows)}
            sk = {}
            if scale:
                sc = StandardScaler().fit(X)
                Z, HZ = sc.transform(X), sc.transform(H)
                sk["scaler_mean"], sk["scaler_scale"] = list(sc.mean_), list(sc.scale_)
            else:
                Z, HZ = X, H
            m = OneClassSVM(kernel=kernel, nu=nu, gamma=gamma, coef0=coef0, degree=degree,
                            tol=1e-3, shrinking=True, cache_size=200).fit(Z)
            sk.update({"gamma": float(m._gamma), "support": [int(i) for i in m.support_],
                       "dual_coef": list(m.dual_coef_[0]), "intercept": float(m.intercept_[0]),
                       "decision": list(m.decision_function(HZ))})
            out["sklearn"] = sk
            if not isinstance(gamma, str) and not scale:
                out["libsvm"] = libsvm_fit(name, x, kernel, nu, gamma, coef0, degree, tmp)
            with open(os.path.join(here, name + ".json"), "w") as f:
                json.dump(out, f, separators=(",", ":"))
                f.write("\n")
            print(name, "SVs", len(m.support_), file=sys.stderr)


if __name__ == "__main__":
    main()
