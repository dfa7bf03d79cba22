"""PyTorch peer of bench/fnn_bench.c: the same 784-256-128-10 ReLU network,
data, normalization, optimizers and output format (one JSON object a line).

    python torch_mlp.py throughput --batch 128 --optimizer adam --epochs 4
    python torch_mlp.py accuracy --target 0.88 --batch 128 --optimizer adam

--threads sets torch.set_num_threads; OMP_WAIT_POLICY and
OPENBLAS_NUM_THREADS come from the environment that bench/run.py sets.
"""
import argparse
import gzip
import json
import resource
import sys
import time

START = time.monotonic()

import numpy as np  # noqa: E402
import torch  # noqa: E402

DATA_DIR = "/usr/share/datasets/fashion-mnist"


def read_idx(path, offset):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def load(split):
    x = read_idx(f"{DATA_DIR}/{split}-images-idx3-ubyte.gz", 16)
    y = read_idx(f"{DATA_DIR}/{split}-labels-idx1-ubyte.gz", 8)
    return x.reshape(-1, 784).astype(np.float32), y.astype(np.int64)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["throughput", "accuracy"])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--optimizer", choices=["adam", "momentum"], default="adam")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--rows", type=int, default=0)
    p.add_argument("--target", type=float, default=0.88)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(42)

    x_train, y_train = load("train")
    x_test, y_test = load("t10k")
    if a.rows > 0:
        x_train, y_train = x_train[: a.rows], y_train[: a.rows]
    # Per-feature standardization with the training set's statistics, a
    # zero std counted as 1, as fastnn does.
    mean = x_train.astype(np.float64).mean(axis=0)
    std = x_train.astype(np.float64).std(axis=0)
    std[std == 0] = 1
    x_train = torch.from_numpy(((x_train - mean) / std).astype(np.float32))
    x_test = torch.from_numpy(((x_test - mean) / std).astype(np.float32))
    y_train = torch.from_numpy(y_train)
    y_test = torch.from_numpy(y_test)

    model = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 128), torch.nn.ReLU(),
        torch.nn.Linear(128, 10))
    if a.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    n = x_train.shape[0]
    epochs = 50 if a.mode == "accuracy" else a.epochs

    for epoch in range(1, epochs + 1):
        t0 = time.monotonic()
        perm = torch.randperm(n)
        total = 0.0
        model.train()
        for first in range(0, n, a.batch):
            idx = perm[first:first + a.batch]
            xb, yb = x_train[idx], y_train[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        seconds = time.monotonic() - t0
        if a.mode == "throughput":
            print(json.dumps({"epoch": epoch,
                              "samples_per_second": n / seconds,
                              "train_loss": total / n}), flush=True)
            continue
        model.eval()
        with torch.no_grad():
            pred = model(x_test).argmax(dim=1)
        acc = (pred == y_test).float().mean().item()
        print(json.dumps({"epoch": epoch, "test_accuracy": acc,
                          "elapsed": time.monotonic() - START}), flush=True)
        if acc >= a.target:
            break
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"summary": True,
                      "process_seconds": time.monotonic() - START,
                      "max_rss_kib": rss, "torch": torch.__version__,
                      "threads": torch.get_num_threads()}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
