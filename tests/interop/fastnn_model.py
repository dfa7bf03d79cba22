"""Read a fastnn model file with numpy alone and run its forward pass.

A safetensors file is an 8-byte little-endian header length N, N bytes of
JSON (tensor name -> dtype, shape, [begin, end) byte offsets into the data
that follows, plus "__metadata__", a dict of strings), then the tensor
data. fastnn stores layers.{l}.weight [n_out, n_in] and layers.{l}.bias
[n_out] for l = 0, 1, ..., and, when metadata "normalized" is "true",
normalize.mean and normalize.std (float64) for the inputs.
"""

import json
import struct

import numpy as np

DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8")}
LEAKY_SLOPE = 0.01


def load(path):
    """Return (metadata dict, {name: array}) read from a safetensors file."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = DTYPES[info["dtype"]]
        flat = np.frombuffer(data[begin:end], dtype=dtype)
        tensors[name] = flat.reshape(info["shape"])
    return metadata, tensors


def activate(name, z):
    """Apply a hidden activation as fastnn defines it."""
    if name == "relu":
        return np.maximum(z, 0)
    if name == "leaky_relu":
        return np.where(z > 0, z, z * z.dtype.type(LEAKY_SLOPE))
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "identity":
        return z
    raise ValueError(f"unknown activation {name!r}")


def output(name, z):
    """Turn logits into probabilities (softmax, sigmoid) or outputs."""
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "identity":
        return z
    raise ValueError(f"unknown output activation {name!r}")


def normalize(metadata, tensors, x, dtype):
    """Normalize raw inputs in float64, as fastnn does, then cast."""
    x = np.asarray(x, dtype=np.float64)
    if metadata["normalized"] == "true":
        x = (x - tensors["normalize.mean"]) / tensors["normalize.std"]
    return x.astype(dtype)


def forward(metadata, tensors, x, dtype=np.float32):
    """Return the model's outputs for raw inputs x [batch, n_in]."""
    n_layers = len(json.loads(metadata["sizes"])) - 1
    a = normalize(metadata, tensors, x, dtype)
    for layer in range(n_layers):
        w = tensors[f"layers.{layer}.weight"].astype(dtype)
        b = tensors[f"layers.{layer}.bias"].astype(dtype)
        z = a @ w.T + b
        last = layer == n_layers - 1
        a = z if last else activate(metadata["activation"], z)
    return output(metadata["output_activation"], a)
