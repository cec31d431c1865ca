"""Multi-layer perceptrons as the host stack sees them: dense layers, ReLU between, optional
biases and dropout.

A model is given either as layer sizes (``[64, 64, 10]``: 64 inputs, one hidden layer of 64,
10 outputs), as numpy weight matrices, or as a PyTorch ``nn.Sequential`` (torch is imported
only by :func:`from_torch`).

The fabric's mappings compute ``Y = W X``. A layer with a bias runs on them unchanged: the host
appends a constant-one row to its input ``X`` (resident on the fabric like the others) and the
bias is one more weight column, streamed like the others, so ``[W b] [X; 1] = W X + b``. Its
gradient is that column of the weight gradient, ``dZ 1^T``: the sum of ``dZ`` over the batch.
Stored matrices (:attr:`MlpSpec.stored_shapes`) are therefore ``out x (in + 1)`` for layers
with a bias, the bias last.
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["MlpSpec", "from_sizes", "from_arrays", "from_torch", "he_init"]


@dataclass(frozen=True)
class MlpSpec:
    """Layer shapes ``(out_features, in_features)`` in order; ReLU after every layer but the
    last. ``bias``: whether each layer has a bias (default none); ``dropout``: the probability
    in [0, 1) with which each layer's input features are zeroed in training (default 0);
    ``names``: each layer's name in a PyTorch ``state_dict`` (default ``"0"``, ``"2"``, ...:
    positions in an ``nn.Sequential`` of Linear and ReLU). ``signature`` identifies the
    parameter shapes in checkpoints."""
    shapes: tuple
    bias: tuple = None
    dropout: tuple = None
    names: tuple = None

    def __post_init__(self):
        layers = len(self.shapes)
        defaults = {"bias": (False,) * layers, "dropout": (0.0,) * layers,
                    "names": tuple(str(2 * k) for k in range(layers))}
        for field, default in defaults.items():
            value = getattr(self, field)
            value = default if value is None else tuple(value)
            if len(value) != layers:
                raise ValueError(f"Got {len(value)} {field} entries for {layers} layers")
            object.__setattr__(self, field, value)

    @property
    def signature(self):
        return "mlp:" + ",".join(f"{m}x{n}" + ("+b" if b else "")
                                 for (m, n), b in zip(self.shapes, self.bias))

    @property
    def stored_shapes(self):
        """Shapes of the matrices the store holds and the fabric streams: the bias, if any,
        is one more column."""
        return tuple((m, n + int(b)) for (m, n), b in zip(self.shapes, self.bias))

    @property
    def inputs(self):
        return self.shapes[0][1]

    @property
    def outputs(self):
        return self.shapes[-1][0]


def _check_shapes(shapes, **kw):
    if not shapes:
        raise ValueError("A model needs at least one layer")
    for k, (m, n) in enumerate(shapes):
        for what, v in (("outputs", m), ("inputs", n)):
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"Layer {k} {what} must be a positive integer, not {v!r}")
    for k in range(1, len(shapes)):
        if shapes[k][1] != shapes[k - 1][0]:
            raise ValueError(f"Layer {k} takes {shapes[k][1]} inputs but layer {k - 1} gives "
                             f"{shapes[k - 1][0]} outputs")
    return MlpSpec(tuple((int(m), int(n)) for m, n in shapes), **kw)


def from_sizes(sizes, bias=False):
    """``[n_in, h_1, ..., n_out]`` -> :class:`MlpSpec` (``bias``: every layer has one)."""
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"Layer sizes need at least inputs and outputs, not {sizes!r}")
    return _check_shapes([(sizes[k + 1], sizes[k]) for k in range(len(sizes) - 1)],
                         bias=(bool(bias),) * (len(sizes) - 1))


def from_arrays(weights, biases=None, dropout=None, names=None):
    """Weight matrices (each M x N) and optional bias vectors (length M, or ``None`` per
    layer) -> ``(spec, [float32 stored matrices])``; NaN/inf rejected."""
    arrays = [np.asarray(w, dtype=np.float32) for w in weights]
    biases = [None] * len(arrays) if biases is None else list(biases)
    for k, w in enumerate(arrays):
        if w.ndim != 2:
            raise ValueError(f"Layer {k} weights must be a matrix, not shape {w.shape}")
        if not np.all(np.isfinite(w)):
            raise ValueError(f"Layer {k} weights hold NaN or infinite values")
    spec = _check_shapes([w.shape for w in arrays], bias=[b is not None for b in biases],
                         dropout=dropout, names=names)
    stored = []
    for k, (w, b) in enumerate(zip(arrays, biases)):
        if b is not None:
            b = np.asarray(b, dtype=np.float32)
            if b.shape != (w.shape[0],):
                raise ValueError(f"Layer {k} bias must have shape ({w.shape[0]},), not "
                                 f"{b.shape}")
            if not np.all(np.isfinite(b)):
                raise ValueError(f"Layer {k} bias holds NaN or infinite values")
            w = np.concatenate([w, b[:, None]], axis=1)
        stored.append(w)
    return spec, stored


def from_torch(model):
    """A ``torch.nn.Sequential`` -> ``(spec, [float32 stored matrices])``.

    Accepted modules: ``Linear`` (with or without bias), ``ReLU`` (exactly one between two
    Linear layers, none after the last: its outputs are the logits), ``Dropout`` (before any
    Linear: applied on the host to that layer's input in training, several in a row compose),
    ``Identity`` and ``Flatten`` (with its default dimensions: a no-op on samples x features).
    Anything else is refused with the module's position and type."""
    import torch.nn as nn

    if not isinstance(model, nn.Sequential):
        raise ValueError(f"The model must be an nn.Sequential, not {type(model).__name__}")
    weights, biases, dropout, names = [], [], [], []
    keep, relu_done = 1.0, True        # keep: probability an input survives the dropouts
    for k, (name, module) in enumerate(model.named_children()):
        kind = type(module).__name__
        where = f"Module {k} ({kind})"
        if isinstance(module, nn.Linear):
            if weights and not relu_done:
                raise ValueError(f"{where} follows a Linear without a ReLU between them")
            weights.append(module.weight.detach().cpu().numpy())
            biases.append(None if module.bias is None else module.bias.detach().cpu().numpy())
            dropout.append(1.0 - keep)
            names.append(name)
            keep, relu_done = 1.0, False
        elif isinstance(module, nn.ReLU):
            if not weights or relu_done:
                raise ValueError(f"{where} must follow a Linear (one ReLU per hidden layer)")
            relu_done = True
        elif isinstance(module, nn.Dropout):
            if not 0 <= module.p < 1:
                raise ValueError(f"{where} must drop with a probability in [0, 1), not "
                                 f"{module.p!r}")
            keep *= 1.0 - module.p
            last_dropout = where
        elif isinstance(module, nn.Flatten):
            if (module.start_dim, module.end_dim) != (1, -1):
                raise ValueError(f"{where} must flatten dimensions 1 to -1, not "
                                 f"{module.start_dim} to {module.end_dim}")
        elif not isinstance(module, nn.Identity):
            raise ValueError(f"{where} is not supported: use Linear, ReLU, Dropout, Identity "
                             f"or Flatten")
    if not weights:
        raise ValueError("The model has no Linear layer")
    if relu_done:
        raise ValueError("The model must end with a Linear layer (its outputs are the "
                         "logits), not a ReLU")
    if keep != 1.0:
        raise ValueError(f"{last_dropout} follows the last Linear: its outputs are the logits")
    return from_arrays(weights, biases, dropout=dropout, names=names)


def he_init(spec, rng):
    """He-normal float32 weights for ``spec`` (std ``sqrt(2 / in_features)``), biases zero."""
    out = []
    for (m, n), b in zip(spec.shapes, spec.bias):
        w = (rng.standard_normal((m, n)) * np.sqrt(2.0 / n)).astype(np.float32)
        out.append(np.concatenate([w, np.zeros((m, 1), np.float32)], axis=1) if b else w)
    return out
