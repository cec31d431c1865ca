"""A trained MLP from a ``wafer train --checkpoint`` folder: the layer shapes from the
checkpoint's signature, the masked weights through the checkpoint loader (checksum, model and
shape checks of :func:`wafer_engine.sw.training.checkpoint.load_checkpoint`)."""

import json
from pathlib import Path

import numpy as np

from wafer_engine.sw.training.checkpoint import POINTER, load_checkpoint, read_checkpoint
from wafer_engine.sw.training.mlp import MlpSpec
from wafer_engine.sw.training.optim import make_optimizer
from wafer_engine.sw.training.standardize import STATS_ARRAYS, Standardizer
from wafer_engine.sw.training.weight_store import WeightStore

__all__ = ["load_mlp", "load_input_stats"]

_PREFIX = "mlp:"


def _spec_of(signature):
    """The :class:`~wafer_engine.sw.training.mlp.MlpSpec` of ``"mlp:64x64+b,10x64"`` (``+b``:
    the layer has a bias)."""
    try:
        if not signature.startswith(_PREFIX):
            raise ValueError
        layers = signature[len(_PREFIX):].split(",")
        bias = tuple(layer.endswith("+b") for layer in layers)
        shapes = tuple(tuple(int(v) for v in layer.removesuffix("+b").split("x"))
                       for layer in layers)
        spec = MlpSpec(shapes, bias=bias)
    except (ValueError, TypeError, AttributeError, IndexError):
        raise ValueError(f"Its model signature {signature!r} is not an MLP's") from None
    if spec.signature != signature:
        raise ValueError(f"Its model signature {signature!r} is not an MLP's")
    return spec


def load_mlp(directory):
    """``(spec, weights, meta)`` of the newest checkpoint in ``directory``: the
    :class:`~wafer_engine.sw.training.mlp.MlpSpec`, the layers' float32 weights (zero off
    their masks, as trained; a layer with a bias has it as its last column) and the
    checkpoint's metadata. Raises ``ValueError`` if there is
    no checkpoint, or it is corrupted or not an MLP's."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError("No such folder")
    pointer = directory / POINTER
    try:
        meta = json.loads(pointer.read_text())
        signature, optimizer = meta["signature"], meta["optimizer"]
    except FileNotFoundError:
        raise ValueError(f"No checkpoint ({POINTER} missing)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"Checkpoint pointer {POINTER} is corrupted: {exc}") from None
    spec = _spec_of(signature)
    names = make_optimizer(optimizer).state_names
    store = WeightStore(spec, [np.zeros(shape, np.float32) for shape in spec.stored_shapes],
                        0.0, names)
    meta = load_checkpoint(directory, store)
    return spec, [np.array(w, dtype=np.float32) for w in store.weights], meta


def load_input_stats(directory):
    """The :class:`~wafer_engine.sw.training.standardize.Standardizer` saved with the newest
    checkpoint in ``directory`` (the training split's statistics, which every input of the
    model goes through), or ``None`` for a checkpoint that holds none."""
    _, arrays = read_checkpoint(directory)
    if not all(name in arrays for name in STATS_ARRAYS):
        return None
    return Standardizer(*(arrays[name] for name in STATS_ARRAYS))
