"""A trained MLP from a ``wafer train --checkpoint`` folder: the layer shapes from the
checkpoint's signature, the masked weights through the checkpoint loader (checksum, model and
shape checks of :func:`wafer_engine.sw.training.checkpoint.load_checkpoint`)."""

import json
from pathlib import Path

import numpy as np

from wafer_engine.sw.training.checkpoint import POINTER, load_checkpoint
from wafer_engine.sw.training.mlp import from_sizes
from wafer_engine.sw.training.optim import make_optimizer
from wafer_engine.sw.training.weight_store import WeightStore

__all__ = ["load_mlp"]

_PREFIX = "mlp:"


def _spec_of(signature):
    """The :class:`~wafer_engine.sw.training.mlp.MlpSpec` of ``"mlp:64x64,10x64"``."""
    try:
        if not signature.startswith(_PREFIX):
            raise ValueError
        shapes = [tuple(int(v) for v in layer.split("x"))
                  for layer in signature[len(_PREFIX):].split(",")]
        spec = from_sizes([shapes[0][1]] + [m for m, _ in shapes])
    except (ValueError, TypeError, AttributeError, IndexError):
        raise ValueError(f"Its model signature {signature!r} is not an MLP's") from None
    if spec.signature != signature:
        raise ValueError(f"Its model signature {signature!r} is not an MLP's")
    return spec


def load_mlp(directory):
    """``(spec, weights, meta)`` of the newest checkpoint in ``directory``: the
    :class:`~wafer_engine.sw.training.mlp.MlpSpec`, the layers' float32 weights (zero off
    their masks, as trained) and the checkpoint's metadata. Raises ``ValueError`` if there is
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
    store = WeightStore(spec, [np.zeros(shape, np.float32) for shape in spec.shapes], 0.0,
                        names)
    meta = load_checkpoint(directory, store)
    return spec, [np.array(w, dtype=np.float32) for w in store.weights], meta
