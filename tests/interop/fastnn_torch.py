"""Load a fastnn model file into an equivalent PyTorch nn.Sequential.

docs/pytorch.md shows the same steps. layers.{l}.weight is [n_out, n_in],
the layout of nn.Linear.weight, so the tensors are copied as they are.
"""

import json

import torch
from safetensors.torch import load_file
from safetensors import safe_open

ACTIVATIONS = {
    "relu": torch.nn.ReLU,
    "leaky_relu": lambda: torch.nn.LeakyReLU(0.01),
    "tanh": torch.nn.Tanh,
    "sigmoid": torch.nn.Sigmoid,
    "identity": torch.nn.Identity,
}


def load_sequential(path, dtype=torch.float32):
    """Return (model, normalize, metadata) for a fastnn model file.

    model maps normalized inputs to logits; normalize maps raw inputs
    [batch, n_in] to the model's inputs in float64, then casts to dtype.
    """
    with safe_open(path, framework="pt") as f:
        metadata = f.metadata()
    tensors = load_file(path)
    sizes = json.loads(metadata["sizes"])
    layers = []
    for l in range(len(sizes) - 1):
        linear = torch.nn.Linear(sizes[l], sizes[l + 1], dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(tensors[f"layers.{l}.weight"])
            linear.bias.copy_(tensors[f"layers.{l}.bias"])
        layers.append(linear)
        if l < len(sizes) - 2:
            layers.append(ACTIVATIONS[metadata["activation"]]())
    model = torch.nn.Sequential(*layers)

    def normalize(x):
        x = torch.as_tensor(x, dtype=torch.float64)
        if metadata["normalized"] == "true":
            x = (x - tensors["normalize.mean"]) / tensors["normalize.std"]
        return x.to(dtype)

    return model, normalize, metadata


def probabilities(metadata, logits):
    """Apply the output activation that fastnn's predict applies."""
    head = metadata["output_activation"]
    if head == "softmax":
        return torch.softmax(logits, dim=1)
    if head == "sigmoid":
        return torch.sigmoid(logits)
    return logits


def cost(model, metadata, logits, y):
    """fastnn's cost: mean loss over the batch plus (l2 / 2m) sum ||W||^2."""
    loss = metadata["loss"]
    if loss == "softmax_cross_entropy":
        j = torch.nn.functional.cross_entropy(logits, y.long())
    elif loss == "sigmoid_binary_cross_entropy":
        j = torch.nn.functional.binary_cross_entropy_with_logits(
            logits[:, 0], y)
    else:
        j = 0.5 * ((logits[:, 0] - y) ** 2).mean()
    l2 = float(metadata["l2"])
    weights = [m.weight for m in model if isinstance(m, torch.nn.Linear)]
    return j + l2 / (2 * len(y)) * sum((w ** 2).sum() for w in weights)


def flat_gradient(model):
    """Gradients in fastnn's order: W[0], b[0], W[1], b[1], ..."""
    parts = []
    for m in model:
        if isinstance(m, torch.nn.Linear):
            parts += [m.weight.grad.reshape(-1), m.bias.grad]
    return torch.cat(parts)
