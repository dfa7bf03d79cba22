"""Compare a fastnn model with the same weights in a PyTorch nn.Sequential.

usage: check_torch.py MODEL X.npy Y.npy FASTNN_EXE GRADIENT_EXE WORK_DIR

Outputs are compared with `fastnn predict` (float32) and, with the cost
and the gradient of one batch, with example_model_gradient in float32 and
float64. Every value must be within 1e-5 in float32 and 1e-10 in
float64 (absolute differences).
"""

import os
import subprocess
import sys

import numpy as np
import torch

from fastnn_torch import cost, flat_gradient, load_sequential, probabilities

TOLERANCE = {"f32": 1e-5, "f64": 1e-10}
DTYPE = {"f32": torch.float32, "f64": torch.float64}
failures = []


def compare(what, got, want, tol):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        failures.append(what)
        print(f"FAIL: {what}: shape {got.shape} != {want.shape}",
              file=sys.stderr)
        return
    err = float(np.max(np.abs(got - want))) if got.size else 0.0
    ok = err <= tol
    print(f"{'ok' if ok else 'FAIL'}: {what}: max abs difference {err:.3g} "
          f"(limit {tol:g})", file=sys.stdout if ok else sys.stderr)
    if not ok:
        failures.append(what)


def torch_pass(model_path, x, y, precision):
    model, normalize, metadata = load_sequential(model_path, DTYPE[precision])
    inputs = normalize(x)
    logits = model(inputs)
    j = cost(model, metadata, logits, torch.as_tensor(y, dtype=DTYPE[precision]))
    model.zero_grad()
    j.backward()
    out = probabilities(metadata, logits).detach().numpy()
    return out, float(j), flat_gradient(model).numpy()


def main():
    model_path, x_path, y_path, exe, gradient_exe, work = sys.argv[1:7]
    name = os.path.basename(model_path)
    x = np.load(x_path)
    y = np.load(y_path).astype(np.float64)

    predicted = os.path.join(work, "torch-predict.npy")
    r = subprocess.run([exe, "predict", "--model", model_path, "--data",
                        x_path, "--labels", y_path, "--output", predicted],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"fastnn predict failed: {r.stderr.strip()}")
    out32, _, _ = torch_pass(model_path, x, y, "f32")
    compare(f"{name} predict vs torch float32", np.load(predicted), out32,
            TOLERANCE["f32"])

    for precision in ("f32", "f64"):
        prefix = os.path.join(work, f"grad-{precision}")
        r = subprocess.run([gradient_exe, model_path, x_path, y_path,
                            precision, prefix], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"{gradient_exe} failed: {r.stderr.strip()}")
        out, j, grad = torch_pass(model_path, x, y, precision)
        tol = TOLERANCE[precision]
        label = f"{name} {precision}"
        compare(f"{label} outputs", np.load(prefix + ".output.npy"), out, tol)
        compare(f"{label} cost", np.load(prefix + ".cost.npy"), j, tol)
        compare(f"{label} gradient", np.load(prefix + ".grad.npy"), grad, tol)
    if failures:
        sys.exit(f"{len(failures)} comparisons failed")


if __name__ == "__main__":
    main()
