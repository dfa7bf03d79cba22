"""Check a fastnn model file with the official safetensors package.

usage: check_safetensors.py MODEL TRAIN_X.npy KEY=VALUE...

Each KEY=VALUE is an expected metadata string (sizes=[6,16,3], loss=mse,
...). Checks the tensor names, shapes and dtypes against "sizes", the
metadata that every fastnn model has, the stored normalization against
numpy's statistics of TRAIN_X, and that numpy alone (fastnn_model.load)
reads the same tensors.
"""

import json
import sys

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file

import fastnn_model

KNOWN_INITS = {"he", "he-uniform", "xavier", "xavier-uniform", "lecun",
               "small", "normal", "zeros"}
failures = []


def check(ok, what):
    print(f"{'ok' if ok else 'FAIL'}: {what}",
          file=sys.stdout if ok else sys.stderr)
    if not ok:
        failures.append(what)


def check_tensors(f, metadata):
    sizes = json.loads(metadata["sizes"])
    normalized = metadata["normalized"] == "true"
    dtype = {"float32": np.float32, "float64": np.float64}[metadata["dtype"]]
    expected = {}
    for l in range(len(sizes) - 1):
        expected[f"layers.{l}.weight"] = ((sizes[l + 1], sizes[l]), dtype)
        expected[f"layers.{l}.bias"] = ((sizes[l + 1],), dtype)
    if normalized:
        expected["normalize.mean"] = ((sizes[0],), np.float64)
        expected["normalize.std"] = ((sizes[0],), np.float64)
    check(set(f.keys()) == set(expected),
          f"tensor names {sorted(f.keys())}")
    for name, (shape, dt) in expected.items():
        if name not in f.keys():
            continue
        t = f.get_tensor(name)
        check(t.shape == shape and t.dtype == dt,
              f"{name}: shape {t.shape} dtype {t.dtype}, expected {shape} {dt}")


def check_metadata(metadata, expected):
    check(metadata.get("format") == "fastnn", "metadata format is fastnn")
    check(metadata.get("format_version") == "1", "metadata format_version 1")
    for key, value in expected.items():
        got = metadata.get(key)
        if key == "sizes":
            same = got is not None and json.loads(got) == json.loads(value)
        elif key in ("l2", "keep_prob"):
            same = got is not None and float(got) == float(value)
        else:
            same = got == value
        check(same, f"metadata {key} is {got!r}, expected {value!r}")
    n_layers = len(json.loads(metadata["sizes"])) - 1
    inits = json.loads(metadata.get("init", "[]"))
    check(len(inits) == n_layers and set(inits) <= KNOWN_INITS,
          f"metadata init {inits}")
    training = json.loads(metadata.get("training", "{}"))
    check("train" in training, "metadata training is a JSON object with train")


def check_normalization(f, x):
    x = np.load(x).reshape(len(np.load(x)), -1).astype(np.float64)
    std = x.std(axis=0)
    std[std == 0] = 1
    mean_err = np.max(np.abs(f.get_tensor("normalize.mean") - x.mean(axis=0)))
    std_err = np.max(np.abs(f.get_tensor("normalize.std") - std))
    scale = max(1.0, float(np.max(np.abs(x))))
    check(mean_err <= 1e-12 * scale, f"normalize.mean matches numpy "
          f"({mean_err:.3g})")
    check(std_err <= 1e-12 * scale, f"normalize.std matches numpy, zero "
          f"variance stored as 1 ({std_err:.3g})")


def main():
    path, x_path = sys.argv[1], sys.argv[2]
    expected = dict(arg.split("=", 1) for arg in sys.argv[3:])
    with safe_open(path, framework="np") as f:
        metadata = f.metadata()
        check_tensors(f, metadata)
        check_metadata(metadata, expected)
        if metadata["normalized"] == "true":
            check_normalization(f, x_path)
        own_metadata, own = fastnn_model.load(path)
        check(own_metadata == metadata, "numpy reader: same metadata")
        check(all(np.array_equal(own[k], f.get_tensor(k)) for k in f.keys()),
              "numpy reader: same tensors")
    tensors = load_file(path)
    check(all(t.dtype in (torch.float32, torch.float64)
              for t in tensors.values()), "safetensors.torch loads the file")
    if failures:
        sys.exit(f"{len(failures)} checks failed")


if __name__ == "__main__":
    main()
