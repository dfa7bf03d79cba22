"""scikit-learn peer: MLPClassifier (256, 128) with ReLU on Fashion-MNIST,
timed per epoch through partial_fit (one pass over the data per call).
Prints one JSON object a line, like bench/fnn_bench.c.

    python3 sklearn_mlp.py --batch 128 --optimizer adam --epochs 4
"""
import argparse
import json
import resource
import time
import warnings

from torch_mlp import load

import numpy as np
from sklearn.neural_network import MLPClassifier


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--optimizer", choices=["adam", "momentum"], default="adam")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--rows", type=int, default=0)
    a = p.parse_args()
    x, y = load("train")
    if a.rows > 0:
        x, y = x[: a.rows], y[: a.rows]
    mean = x.astype(np.float64).mean(axis=0)
    std = x.astype(np.float64).std(axis=0)
    std[std == 0] = 1
    x = ((x - mean) / std).astype(np.float32)
    solver = "adam" if a.optimizer == "adam" else "sgd"
    clf = MLPClassifier(hidden_layer_sizes=(256, 128), activation="relu",
                        solver=solver, batch_size=a.batch, alpha=0.0,
                        learning_rate_init=1e-3 if solver == "adam" else 0.05,
                        momentum=0.9, nesterovs_momentum=False,
                        random_state=42)
    classes = np.arange(10)
    for epoch in range(1, a.epochs + 1):
        t0 = time.monotonic()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.partial_fit(x, y, classes=classes)
        seconds = time.monotonic() - t0
        print(json.dumps({"epoch": epoch,
                          "samples_per_second": len(x) / seconds,
                          "train_loss": clf.loss_}), flush=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"summary": True, "max_rss_kib": rss}), flush=True)


if __name__ == "__main__":
    main()
