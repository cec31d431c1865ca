"""PyTorch in and out: a model from a Python file (``FILE.py:NAME``) and the trained weights as
a ``state_dict`` the user's ``nn.Sequential`` loads with ``load_state_dict(strict=True)``.

torch is imported inside each function: the rest of the host stack runs without it. Nothing
here unpickles: exports are read back with ``torch.load(weights_only=True)``.
"""

import os
import runpy
from collections import OrderedDict
from pathlib import Path

import numpy as np

__all__ = ["require_torch", "load_model_file", "to_state_dict", "save_state_dict",
           "load_state_dict", "stats_path"]


def require_torch(what):
    """``ValueError`` if PyTorch is not installed; ``what`` names the feature that needs it."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise ValueError(f"{what} needs PyTorch: install the project's 'reference' extra "
                         f"(pip install -e '.[reference]')") from None


def load_model_file(reference, seed=0):
    """The ``nn.Sequential`` named ``NAME`` in the Python file of ``reference``
    (``"FILE.py:NAME"``). The file runs as a script after ``torch.manual_seed(seed)``, so
    PyTorch's own initial weights are reproducible."""
    path, sep, name = str(reference).rpartition(":")
    if not sep or not path or not name.isidentifier():
        raise ValueError(f"--model must be FILE.py:NAME, not {reference!r}")
    if not Path(path).is_file():
        raise ValueError(f"Model file {path} does not exist")
    require_torch("--model")
    import torch

    torch.manual_seed(seed)
    namespace = runpy.run_path(path, run_name="wafer_model")
    if name not in namespace:
        raise ValueError(f"Model file {path} defines no {name}")
    model = namespace[name]
    if not isinstance(model, torch.nn.Sequential):
        raise ValueError(f"{name} in {path} must be an nn.Sequential, not "
                         f"{type(model).__name__}")
    return model


def to_state_dict(spec, weights):
    """``{"<name>.weight": tensor, "<name>.bias": tensor}`` (float32, in layer order) of the
    stored matrices ``weights`` of ``spec``; the bias is split off its column."""
    import torch

    out = OrderedDict()
    for (m, n), bias, name, w in zip(spec.shapes, spec.bias, spec.names, weights):
        w = np.asarray(w, dtype=np.float32)
        out[f"{name}.weight"] = torch.from_numpy(np.ascontiguousarray(w[:, :n]))
        if bias:
            out[f"{name}.bias"] = torch.from_numpy(np.ascontiguousarray(w[:, n]))
    return out


def save_state_dict(path, spec, weights):
    """Write :func:`to_state_dict` to ``path`` with ``torch.save`` (to a temporary name, then
    renamed); returns the path."""
    import torch

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(to_state_dict(spec, weights), tmp)
    os.replace(tmp, path)
    return path


def load_state_dict(path):
    """A saved ``state_dict``, read with ``weights_only=True`` (tensors and containers only,
    never arbitrary objects)."""
    import torch

    try:
        return torch.load(path, weights_only=True)
    except Exception as exc:            # torch raises several kinds for a bad file
        raise ValueError(f"Cannot read a state_dict from {path}: "
                         f"{str(exc).splitlines()[0]}") from None


def stats_path(export_path):
    """Where the input statistics of an export go: ``model.pt`` -> ``model.stats.npz``."""
    return Path(export_path).with_suffix(".stats.npz")
