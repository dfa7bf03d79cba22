#!/usr/bin/python3
"""Times torch.autograd.gradcheck on the network of fastnn's gradient-check
benchmark: 784-64-10, ReLU hidden layer, softmax cross-entropy, L2 term
(lambda / 2m) sum ||W||^2, float64, the first 32 Fashion-MNIST training
images normalized with the training set's per-feature mean and standard
deviation (a standard deviation of 0 is taken as 1, as fastnn does).

Prints one line per measurement, "name seconds", so a shell script can parse
it. With --fast-mode-l2-bug it also runs gradcheck's fast mode on an L2
gradient that is off by a factor of 2 and prints whether it was caught.
"""
import argparse
import gzip
import struct
import sys
import time

import numpy as np
import torch

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 2051:
        rows, cols = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, np.uint8, offset=16).reshape(count,
                                                                rows * cols)
    return np.frombuffer(data, np.uint8, offset=8)


def load_batch(samples):
    images = read_idx(f"{DATA}/train-images-idx3-ubyte.gz").astype(np.float64)
    labels = read_idx(f"{DATA}/train-labels-idx1-ubyte.gz").astype(np.int64)
    mean = images.mean(axis=0)
    std = images.std(axis=0)
    std[std == 0] = 1.0
    x = (images[:samples] - mean) / std
    return torch.from_numpy(x), torch.from_numpy(labels[:samples].copy())


class DoubledL2(torch.autograd.Function):
    """sum ||W||^2 whose backward returns 4 W instead of 2 W: the L2 gradient
    off by a factor of 2."""

    @staticmethod
    def forward(ctx, w):
        ctx.save_for_backward(w)
        return (w * w).sum()

    @staticmethod
    def backward(ctx, grad):
        (w,) = ctx.saved_tensors
        return grad * 4 * w


def make_cost(x, y, l2, square):
    m = x.shape[0]

    def cost(w0, b0, w1, b1):
        h = torch.relu(x @ w0.T + b0)
        logits = h @ w1.T + b1
        loss = torch.nn.functional.cross_entropy(logits, y)
        return loss + l2 / (2 * m) * (square(w0) + square(w1))

    return cost


def parameters(hidden, seed):
    gen = torch.Generator().manual_seed(seed)
    shapes = [(hidden, 784), (hidden,), (10, hidden), (10,)]
    params = []
    for shape in shapes:
        fan_in = shape[1] if len(shape) == 2 else 1
        scale = (2.0 / fan_in) ** 0.5 if len(shape) == 2 else 0.0
        t = torch.randn(shape, generator=gen, dtype=torch.float64) * scale
        params.append(t.requires_grad_())
    return params


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--l2", type=float, default=0.1)
    parser.add_argument("--fast-mode-l2-bug", action="store_true")
    args = parser.parse_args()

    x, y = load_batch(args.samples)
    params = parameters(args.hidden, 42)
    count = sum(p.numel() for p in params)
    print(f"parameters {count}", flush=True)

    def square(w):
        return (w * w).sum()

    cost = make_cost(x, y, args.l2, square)
    start = time.perf_counter()
    ok = torch.autograd.gradcheck(cost, params, eps=1e-7, atol=1e-5,
                                  rtol=1e-3, fast_mode=False)
    print(f"torch_full_seconds {time.perf_counter() - start:.6f}")
    print(f"torch_full_passed {int(ok)}")

    start = time.perf_counter()
    ok = torch.autograd.gradcheck(cost, params, eps=1e-7, atol=1e-5,
                                  rtol=1e-3, fast_mode=True)
    print(f"torch_fast_seconds {time.perf_counter() - start:.6f}")

    if args.fast_mode_l2_bug:
        buggy = make_cost(x, y, args.l2, DoubledL2.apply)
        caught = {}
        for fast in (True, False):
            try:
                torch.autograd.gradcheck(buggy, params, eps=1e-7, atol=1e-5,
                                         rtol=1e-3, fast_mode=fast)
                caught[fast] = 0
            except RuntimeError:
                caught[fast] = 1
        print(f"torch_fast_caught_l2_bug {caught[True]}")
        print(f"torch_full_caught_l2_bug {caught[False]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
