"""Multi-layer perceptrons as the host stack sees them: a list of dense layers, ReLU between.

A model is given either as layer sizes (``[64, 64, 10]``: 64 inputs, one hidden layer of 64,
10 outputs), as numpy weight matrices, or as a PyTorch ``nn.Sequential`` of ``Linear`` and
``ReLU`` modules (torch is imported only by :func:`from_torch`). Layers have no bias: the
fabric's mappings compute ``Y = W X``.
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["MlpSpec", "from_sizes", "from_arrays", "from_torch", "he_init"]


@dataclass(frozen=True)
class MlpSpec:
    """Layer shapes ``(out_features, in_features)`` in order; ReLU after every layer but the
    last. ``signature`` identifies the architecture in checkpoints."""
    shapes: tuple

    @property
    def signature(self):
        return "mlp:" + ",".join(f"{m}x{n}" for m, n in self.shapes)

    @property
    def inputs(self):
        return self.shapes[0][1]

    @property
    def outputs(self):
        return self.shapes[-1][0]


def _check_shapes(shapes):
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
    return MlpSpec(tuple((int(m), int(n)) for m, n in shapes))


def from_sizes(sizes):
    """``[n_in, h_1, ..., n_out]`` -> :class:`MlpSpec`."""
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"Layer sizes need at least inputs and outputs, not {sizes!r}")
    return _check_shapes([(sizes[k + 1], sizes[k]) for k in range(len(sizes) - 1)])


def from_arrays(weights):
    """Weight matrices (each M x N) -> ``(spec, [float32 arrays])``; NaN/inf rejected."""
    arrays = [np.asarray(w, dtype=np.float32) for w in weights]
    for k, w in enumerate(arrays):
        if w.ndim != 2:
            raise ValueError(f"Layer {k} weights must be a matrix, not shape {w.shape}")
        if not np.all(np.isfinite(w)):
            raise ValueError(f"Layer {k} weights hold NaN or infinite values")
    return _check_shapes([w.shape for w in arrays]), arrays


def from_torch(model):
    """A ``torch.nn.Sequential`` of ``Linear`` (without bias) and ``ReLU``, alternating and
    ending with a ``Linear`` -> ``(spec, [float32 arrays])``."""
    import torch.nn as nn

    linears = []
    for k, module in enumerate(model):
        expect_linear = k % 2 == 0
        if expect_linear and isinstance(module, nn.Linear):
            if module.bias is not None:
                raise ValueError(f"Module {k} (Linear) has a bias; the fabric mapping computes "
                                 f"Y = W X: use bias=False")
            linears.append(module.weight.detach().cpu().numpy())
        elif not expect_linear and isinstance(module, nn.ReLU):
            continue
        else:
            want = "Linear" if expect_linear else "ReLU"
            raise ValueError(f"Module {k} must be {want}, not {type(module).__name__}")
    if len(model) % 2 == 0:
        raise ValueError("The model must end with a Linear layer")
    return from_arrays(linears)


def he_init(spec, rng):
    """He-normal float32 weights for ``spec`` (std ``sqrt(2 / in_features)``)."""
    return [(rng.standard_normal((m, n)) * np.sqrt(2.0 / n)).astype(np.float32)
            for m, n in spec.shapes]
