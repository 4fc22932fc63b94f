"""Helpers for make_models.sh (test data only, never run by the product).

  gen.py data SEED NFEAT NROWS ZEROLAST > file   random rows in libsvm's sparse format
  gen.py expect MODEL INPUT LABELS > file        "label decision magnitude" per input row

expect computes libsvm's one-class decision value from the model FILE, in
plain double arithmetic in libsvm's order (svm.cpp k_function and
svm_predict_values), so it is exact to the file as svm-predict reads it.
magnitude is |rho| + sum_i |coef_i K_i|, the scale for a relative tolerance.
"""
import math
import random
import sys


def data(seed, nfeat, nrows, zerolast):
    rnd = random.Random(seed)
    for _ in range(nrows):
        parts = ["1"]
        for j in range(1, nfeat + 1):
            if zerolast and j == nfeat:
                continue
            if rnd.random() < 0.15:
                continue  # a missing index is a 0 feature
            v = rnd.gauss(0.3 * j, 1.0)
            if rnd.random() < 0.05:
                v *= 4  # a few outliers
            parts.append("%d:%r" % (j, v))
        print(" ".join(parts))


def read_sparse(tokens):
    out = {}
    for t in tokens:
        i, v = t.split(":")
        out[int(i)] = float(v)
    return out


def merged(x, y):
    """Index-ordered pairs (xv, yv) over the union of indices, as libsvm walks them."""
    for i in sorted(set(x) | set(y)):
        yield x.get(i), y.get(i)


def dot(x, y):
    s = 0.0
    for a, b in merged(x, y):
        if a is not None and b is not None:
            s += a * b
    return s


def rbf_dist(x, y):
    s = 0.0
    for a, b in merged(x, y):
        if a is not None and b is not None:
            d = a - b
            s += d * d
        elif a is not None:
            s += a * a
        else:
            s += b * b
    return s


def powi(base, times):
    tmp, ret = base, 1.0
    t = times
    while t > 0:
        if t % 2 == 1:
            ret *= tmp
        tmp *= tmp
        t //= 2
    return ret


def expect(model_path, input_path, labels_path):
    head = {}
    svs = []
    with open(model_path) as f:
        lines = f.read().splitlines()
    i = 0
    while lines[i].strip() != "SV":
        k, *v = lines[i].split()
        head[k] = v
        i += 1
    for line in lines[i + 1:]:
        if not line.strip():
            continue
        toks = line.split()
        svs.append((float(toks[0]), read_sparse(toks[1:])))
    kernel = head["kernel_type"][0]
    gamma = float(head.get("gamma", ["0"])[0])
    coef0 = float(head.get("coef0", ["0"])[0])
    degree = int(head.get("degree", ["0"])[0])
    rho = float(head["rho"][0])

    def k(x, y):
        if kernel == "rbf":
            return math.exp(-gamma * rbf_dist(x, y))
        if kernel == "linear":
            return dot(x, y)
        if kernel == "polynomial":
            return powi(gamma * dot(x, y) + coef0, degree)
        if kernel == "sigmoid":
            return math.tanh(gamma * dot(x, y) + coef0)
        raise SystemExit("kernel " + kernel)

    with open(labels_path) as f:
        labels = f.read().split()
    with open(input_path) as f:
        rows = [read_sparse(l.split()[1:]) for l in f if l.strip()]
    assert len(rows) == len(labels), (len(rows), len(labels))
    for x, label in zip(rows, labels):
        s, mag = 0.0, abs(rho)
        for c, sv in svs:
            t = c * k(x, sv)
            s += t
            mag += abs(t)
        s -= rho
        print("%s %r %r" % (label, s, mag))


if __name__ == "__main__":
    if sys.argv[1] == "data":
        data(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1")
    elif sys.argv[1] == "expect":
        expect(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        raise SystemExit(__doc__)
