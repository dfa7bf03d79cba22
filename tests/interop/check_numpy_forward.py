"""Match `fastnn predict` with a forward pass in numpy alone.

usage: check_numpy_forward.py MODEL X.npy Y.npy FASTNN_EXE WORK_DIR

fastnn_model.py reads the model file without the safetensors package and
runs the forward pass in float32 with the stored normalization; every
output must be within 1e-5 of fastnn's predictions.
"""

import os
import subprocess
import sys

import numpy as np

import fastnn_model

TOLERANCE = 1e-5


def main():
    path, x_path, y_path, exe, work = sys.argv[1:6]
    out = os.path.join(work, "numpy-predict.npy")
    r = subprocess.run([exe, "predict", "--model", path, "--data", x_path,
                        "--labels", y_path, "--output", out],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"fastnn predict failed: {r.stderr.strip()}")
    metadata, tensors = fastnn_model.load(path)
    x = np.load(x_path)
    want = fastnn_model.forward(metadata, tensors, x.reshape(len(x), -1))
    got = np.load(out)
    if got.shape != want.shape or got.dtype != np.float32:
        sys.exit(f"predictions have shape {got.shape} and dtype {got.dtype}, "
                 f"expected {want.shape} float32")
    err = float(np.max(np.abs(got.astype(np.float64) - want)))
    print(f"{os.path.basename(path)}: numpy forward vs fastnn predict: max "
          f"abs difference {err:.3g} (limit {TOLERANCE})")
    if not err <= TOLERANCE:
        sys.exit("numpy forward pass does not match fastnn predict")


if __name__ == "__main__":
    main()
