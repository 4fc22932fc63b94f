#!/usr/bin/python3
"""Writes hostile pickle and joblib files for internal/svm's tests.

Run from this directory with /usr/bin/python3 (numpy, scikit-learn, joblib).
Never load these files with Python's pickle: the first ones run shell
commands (they only touch marker files under /tmp, which the Go test checks
were never created).
"""
import os
import pickle
import struct

import joblib.numpy_pickle
import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

HERE = os.path.dirname(os.path.abspath(__file__))
MARK = "/tmp/batchscore-hostile-"


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


class Reduce:
    """Pickles as fn(*args), the way an attacker's object would."""

    def __init__(self, fn, args, state=None):
        self.fn, self.args, self.state = fn, args, state

    def __reduce__(self):
        if self.state is None:
            return (self.fn, self.args)
        return (self.fn, self.args, self.state)


def fitted():
    x = np.random.RandomState(0).randn(40, 2)
    return Pipeline([("scaler", StandardScaler()), ("svm", OneClassSVM(gamma=0.5))]).fit(x)


def main():
    # Protocol 0, written by hand: os.system(...).
    write("os_system_proto0.pkl", b"cos\nsystem\n(S'touch " + MARK.encode() + b"os_system'\ntR.")
    # What pickle.dumps makes of an object reducing to os.system (posix.system).
    write("posix_system_proto4.pkl", pickle.dumps(Reduce(os.system, ("touch " + MARK + "posix_system",)), protocol=4))
    write("eval_proto2.pkl", pickle.dumps(Reduce(eval, ("__import__('os').system('touch " + MARK + "eval')",)), protocol=2))
    # The payload hidden inside an otherwise valid model.
    m = fitted()
    m.steps[1][1].random_state = Reduce(os.system, ("touch " + MARK + "nested",))
    write("os_system_in_model.pkl", pickle.dumps(m, protocol=4))
    # An unknown global that only names a module function.
    write("subprocess_proto5.pkl", pickle.dumps(Reduce(__import__("subprocess").check_call, (["touch", MARK + "subprocess"],)), protocol=5))

    # numpy arrays that claim 10^12 elements and hold 16 bytes.
    huge = (10**6, 10**6)
    m = fitted()
    m.steps[1][1].support_vectors_ = Reduce(np.core.multiarray._reconstruct, (np.ndarray, (0,), b"b"),
                                            (1, huge, np.dtype("f8"), False, b"\0" * 16))
    write("huge_shape_reconstruct.pkl", pickle.dumps(m, protocol=3))
    m = fitted()
    m.steps[1][1].support_vectors_ = Reduce(np.core.numeric._frombuffer, (b"\0" * 16, np.dtype("f8"), huge, "C"))
    write("huge_shape_frombuffer.pkl", pickle.dumps(m, protocol=5))
    m = fitted()
    m.steps[0][1].mean_ = Reduce(np.core.multiarray._reconstruct, (np.ndarray, (0,), b"b"),
                                 (1, (10**12,), np.dtype("f8"), False, b"\0" * 16))
    write("huge_shape_mean.pkl", pickle.dumps(m, protocol=2))
    # 10^12 rows of no features: no bytes at all, yet 10^12 rows to make.
    m = fitted()
    m.steps[1][1].support_vectors_ = Reduce(np.core.multiarray._reconstruct, (np.ndarray, (0,), b"b"),
                                            (1, (10**12, 0), np.dtype("f8"), False, b""))
    write("huge_rows_no_features.pkl", pickle.dumps(m, protocol=4))
    # A joblib wrapper claiming 10^12 float64 values that are not there.
    m = fitted()
    m.steps[1][1].support_vectors_ = joblib.numpy_pickle.NumpyArrayWrapper(np.ndarray, huge, "C", np.dtype("f8"))
    write("huge_shape.joblib", pickle.dumps(m, protocol=4))

    # Lengths far beyond the data.
    write("binunicode8_huge.pkl", b"\x80\x04\x8d" + struct.pack("<Q", 2**62) + b"abc.")
    write("long4_huge.pkl", b"\x80\x04\x8b" + struct.pack("<I", 2**31 - 1) + b"\x01.")
    write("frame_huge.pkl", b"\x80\x04\x95" + struct.pack("<Q", 2**60) + b"N.")
    # Deeply nested MARKs and a memo index far out of range.
    write("deep_marks.pkl", b"\x80\x04" + b"(" * 10000 + b"N.")
    write("memo_get_missing.pkl", b"\x80\x04j" + struct.pack("<I", 2**31) + b".")
    # Out-of-band buffers, persistent ids, the extension registry.
    write("next_buffer.pkl", b"\x80\x05\x97.")
    write("persid.pkl", b"\x80\x04\x8c\x03abc\x94Q.")
    write("ext1.pkl", b"\x80\x04\x82\x01.")


def prove_live():
    """Loads the shell payloads with Python's own pickle in a child process,
    to prove they do run there (the Go test proves they do not run in Go)."""
    import subprocess
    import sys
    for name, marker in [("os_system_proto0.pkl", "os_system"), ("posix_system_proto4.pkl", "posix_system"),
                         ("eval_proto2.pkl", "eval"), ("subprocess_proto5.pkl", "subprocess")]:
        path = MARK + marker
        if os.path.exists(path):
            os.remove(path)
        subprocess.run([sys.executable, "-c", "import pickle,sys; pickle.load(open(sys.argv[1],'rb'))",
                        os.path.join(HERE, name)], check=False, capture_output=True)
        assert os.path.exists(path), name + " did not run under Python"
        os.remove(path)
        print("payload live under Python:", name)


if __name__ == "__main__":
    main()
    prove_live()
