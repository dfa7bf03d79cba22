"""Check that fastnn reads .npy files written by numpy as numpy reads them.

usage: check_npy_layouts.py FASTNN_EXE WORK_DIR

Features go through `fastnn predict` with an identity model (one layer,
W = I, b = 0, MSE head, no normalization), so the predictions are the
features as fastnn read them, converted to float32. Labels go through
`fastnn eval` with a 1-input identity model whose features are the labels
themselves, so the loss 0.5 * mean (y_read - y)^2 is 0 exactly when every
label was read right.
"""

import json
import os
import subprocess
import sys

import numpy as np
from safetensors.numpy import save_file

FEATURE_DTYPES = ["<f4", "<f8", ">f4", ">f8", "|u1", "<i4", "<i8", ">i8"]
LABEL_DTYPES = FEATURE_DTYPES
VERSIONS = [(1, 0), (2, 0), (3, 0)]
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print(f"FAIL: {what}", file=sys.stderr)


def identity_model(path, d):
    """Write a fastnn model whose output equals its input [batch, d]."""
    tensors = {
        "layers.0.weight": np.eye(d, dtype=np.float32),
        "layers.0.bias": np.zeros(d, dtype=np.float32),
    }
    metadata = {
        "format": "fastnn", "format_version": "1", "dtype": "float32",
        "sizes": json.dumps([d, d]), "activation": "relu",
        "output_activation": "identity", "loss": "mse",
        "normalized": "false", "init": '["zeros"]', "l2": "0",
        "keep_prob": "1", "seed": "0",
    }
    save_file(tensors, path, metadata=metadata)


def save(path, array, version):
    """np.save with an explicit format version; returns the header read back."""
    with open(path, "wb") as f:
        np.lib.format.write_array(f, array, version=version)
    with open(path, "rb") as f:
        got = np.lib.format.read_magic(f)
        header = np.lib.format._read_array_header(f, got)
    assert got == version, (got, version)
    return header


def run(exe, *args):
    return subprocess.run([exe, *args], capture_output=True, text=True)


def sample(dtype, shape, rng):
    kind = np.dtype(dtype).kind
    if kind == "u":
        return rng.integers(0, 256, size=shape).astype(dtype)
    if kind == "i":
        big = 2**40 if np.dtype(dtype).itemsize == 8 else 10**6
        return rng.integers(-big, big, size=shape).astype(dtype)
    return (rng.standard_normal(shape) * 10).astype(dtype)


def check_features(exe, work, rng):
    n = 7
    labels = os.path.join(work, "labels.npy")
    np.save(labels, np.arange(n) % 3)
    shapes = [(n, 5), (n, 2, 3)]
    for d in (5, 6):
        identity_model(os.path.join(work, f"identity{d}.safetensors"), d)
    count = 0
    for dtype in FEATURE_DTYPES:
        for shape in shapes:
            x = sample(dtype, shape, rng)
            for order in "CF":
                array = np.asfortranarray(x) if order == "F" else x
                for version in VERSIONS:
                    what = f"features {dtype} {shape} {order} {version}"
                    path = os.path.join(work, "x.npy")
                    _, fortran, descr = save(path, array, version)
                    check(fortran == (order == "F"), what + ": layout")
                    check(descr.str == np.dtype(dtype).str or
                          dtype == "|u1", what + ": dtype")
                    d = int(np.prod(shape[1:]))
                    out = os.path.join(work, "out.npy")
                    r = run(exe, "predict", "--model",
                            os.path.join(work, f"identity{d}.safetensors"),
                            "--data", path, "--labels", labels,
                            "--output", out)
                    check(r.returncode == 0, what + ": " + r.stderr.strip())
                    if r.returncode != 0:
                        continue
                    got = np.load(out)
                    want = np.load(path).reshape(n, -1).astype(np.float32)
                    check(got.dtype == np.float32, what + ": output dtype")
                    check(np.array_equal(got, want), what + ": values")
                    count += 1
    print(f"features: {count} files read equal to np.load")


def eval_loss(exe, work, features, labels):
    r = run(exe, "eval", "--model",
            os.path.join(work, "identity1.safetensors"), "--data", features,
            "--labels", labels, "--json")
    if r.returncode != 0:
        return None, r.stderr.strip()
    return json.loads(r.stdout.strip().splitlines()[-1])["loss"], ""


def check_labels(exe, work, rng):
    identity_model(os.path.join(work, "identity1.safetensors"), 1)
    n = 11
    count = 0
    for dtype in LABEL_DTYPES:
        # Values whose float32 form and that plus 1 are exact: sixteenths
        # of a small range, and integers below 2^24.
        y = sample(dtype, (n,), rng)
        if np.dtype(dtype).kind == "f":
            y = (rng.integers(-160, 160, size=n) / 16).astype(dtype)
        elif np.dtype(dtype).itemsize == 8:
            y = (y // 2**20).astype(dtype)
        exact = y.astype(np.float64)
        features = os.path.join(work, "yx.npy")
        shifted = os.path.join(work, "yx1.npy")
        np.save(features, exact.reshape(-1, 1))
        np.save(shifted, exact.reshape(-1, 1) + 1)
        for shape in [(n,), (n, 1)]:
            for version in VERSIONS:
                what = f"labels {dtype} {shape} {version}"
                path = os.path.join(work, "y.npy")
                save(path, y.reshape(shape), version)
                loss, err = eval_loss(exe, work, features, path)
                check(loss == 0.0, f"{what}: loss {loss} {err}")
                loss, err = eval_loss(exe, work, shifted, path)
                check(loss == 0.5, f"{what}: shifted loss {loss} {err}")
                count += 1
    print(f"labels: {count} files read equal to np.load")


def check_rejected(exe, work):
    """Arrays fastnn must reject with exit status 2 and the file's name."""
    n = 4
    labels = os.path.join(work, "labels4.npy")
    np.save(labels, np.zeros(n, dtype=np.int64))
    good = os.path.join(work, "good.npy")
    np.save(good, np.ones((n, 5), dtype=np.float32))
    with open(good, "rb") as f:
        blob = f.read()
    cases = {
        "object.npy": (np.array([[1, "a"]] * n, dtype=object), "'|O'"),
        "complex.npy": (np.zeros((n, 5), dtype=np.complex64), "'<c8'"),
        "structured.npy": (np.zeros(n, dtype=[("a", "<f4"), ("b", "<i4")]),
                           "structured dtype"),
        "half.npy": (np.zeros((n, 5), dtype=np.float16), "'<f2'"),
        "vector.npy": (np.zeros(n, dtype=np.float32), "expected 2 dimensions"),
        "nan.npy": (np.full((n, 5), np.nan, dtype=np.float32), "is nan"),
    }
    for name, (array, message) in cases.items():
        path = os.path.join(work, name)
        np.save(path, array, allow_pickle=True)
        cases[name] = message
    broken = {
        "truncated.npy": (blob[:-3], "file is truncated"),
        "trailing.npy": (blob + b"\0" * 4, "unexpected bytes"),
        "header.npy": (blob.replace(b"'shape'", b"'shapE'", 1),
                       "'descr', 'fortran_order' or 'shape'"),
        "magic.npy": (b"\x93NUMPX" + blob[6:], "magic"),
    }
    for name, (data, message) in broken.items():
        with open(os.path.join(work, name), "wb") as f:
            f.write(data)
        cases[name] = message
    for name, message in cases.items():
        path = os.path.join(work, name)
        r = run(exe, "stats", "--data", path, "--labels", labels)
        check(r.returncode == 2, f"{name}: exit status {r.returncode}")
        check(path in r.stderr and message in r.stderr,
              f"{name}: message {r.stderr.strip()!r} lacks {message!r}")
    print(f"rejected: {len(cases)} bad files with exit status 2")


def main():
    exe, work = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(20240607)
    check_features(exe, work, rng)
    check_labels(exe, work, rng)
    check_rejected(exe, work)
    if failures:
        print(f"{len(failures)} checks failed", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
