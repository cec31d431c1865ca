"""The weight store (the MemoryX role): fp32 master weights, per-layer sparsity masks, optimizer
state, all on the host.

Arrays live in RAM, or, with ``directory=``, in memory-mapped ``.npy`` files there so layers
larger than RAM page in and out as the streaming scheduler walks them. Sparsity is "selectable":
the user picks the fraction of zeros per layer; masks come from unstructured magnitude pruning
(the largest ``|w|`` survive, ties broken by position) and can be recomputed during training
(:meth:`WeightStore.prune`). A pruned weight is exactly zero and is never streamed.

A layer's bias is the last column of its stored matrix (:mod:`wafer_engine.sw.training.mlp`).
Biases stay dense unless ``prune_bias``: then the bias column is pruned at the layer's fraction
on its own, so the weights' own fraction of zeros is the asked one either way.
"""

from pathlib import Path

import numpy as np

__all__ = ["WeightStore", "magnitude_mask", "layer_mask", "check_sparsity"]


def check_sparsity(value, what="Sparsity"):
    """``value`` as a float in [0, 1), or ``ValueError`` naming it."""
    try:
        s = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number in [0, 1), not {value!r}") from None
    if not 0 <= s < 1:
        raise ValueError(f"{what} must be in [0, 1), not {value!r}")
    return s


def magnitude_mask(weights, sparsity):
    """Boolean mask keeping the ``floor((1 - sparsity) * size)`` largest ``|w|`` (at least one
    weight), so at least the asked fraction is zero; ties broken by the flat position (stable
    sort), so the mask is deterministic."""
    w = np.abs(np.asarray(weights)).reshape(-1)
    # The epsilon keeps (1 - 0.9) * 4096 = 409.6 -> 409 while 0.5 * 6 = 3 stays 3.
    keep = max(1, int(np.floor((1.0 - sparsity) * w.size + 1e-9)))
    order = np.argsort(-w, kind="stable")
    mask = np.zeros(w.size, dtype=bool)
    mask[order[:keep]] = True
    return mask.reshape(np.shape(weights))


def layer_mask(stored, sparsity, bias, prune_bias):
    """Mask of one stored matrix: :func:`magnitude_mask` of the weights; a bias (the last
    column when ``bias``) is all kept, or pruned on its own at the same ``sparsity`` when
    ``prune_bias``."""
    if not bias:
        return magnitude_mask(stored, sparsity)
    stored = np.asarray(stored)
    bias_mask = (magnitude_mask(stored[:, -1], sparsity) if prune_bias
                 else np.ones(stored.shape[0], bool))
    return np.concatenate([magnitude_mask(stored[:, :-1], sparsity), bias_mask[:, None]],
                          axis=1)


class WeightStore:
    """Master weights, masks and optimizer state of an MLP (:class:`wafer_engine.sw.training.mlp.MlpSpec`).

    ``weights``: initial float32 matrices, one per layer; ``sparsity``: one fraction for every
    layer or one per layer, each in [0, 1); ``state_names``: the optimizer's per-layer state
    arrays (zero-initialised); ``directory``: memory-map every array under it (created);
    ``dtype``: of weights and state (float32; float64 for the exact reference run);
    ``prune_bias``: prune the bias columns too (default: they stay dense). ``weights`` are the
    stored matrices (:attr:`~wafer_engine.sw.training.mlp.MlpSpec.stored_shapes`).
    """

    def __init__(self, spec, weights, sparsity, state_names=(), directory=None,
                 dtype=np.float32, prune_bias=False):
        self.spec, self.dtype, self.prune_bias = spec, dtype, bool(prune_bias)
        per_layer = list(sparsity) if np.ndim(sparsity) else [sparsity] * len(spec.shapes)
        if len(per_layer) != len(spec.shapes):
            raise ValueError(f"Got {len(per_layer)} sparsity values for "
                             f"{len(spec.shapes)} layers")
        self.sparsity = [check_sparsity(s, f"Layer {k} sparsity")
                         for k, s in enumerate(per_layer)]
        self.directory = Path(directory) if directory is not None else None
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
        self.weights, self.masks, self.state = [], [], []
        #: Bumped whenever a mask changes, so cached stream plans know to rebuild.
        self.mask_version = 0
        for k, (shape, w) in enumerate(zip(spec.stored_shapes, weights)):
            w = np.asarray(w, dtype=dtype)
            if w.shape != shape:
                raise ValueError(f"Layer {k} weights have shape {w.shape}, the model says "
                                 f"{shape}")
            if not np.all(np.isfinite(w)):
                raise ValueError(f"Layer {k} weights hold NaN or infinite values")
            self.weights.append(self._array(f"w{k}", shape, dtype, w))
            self.masks.append(self._array(f"mask{k}", shape, bool, self._mask(k, w,
                                                                              self.sparsity[k])))
            self.weights[k] *= self.masks[k]
            self.state.append({name: self._array(f"{name}{k}", shape, dtype, 0)
                               for name in state_names})

    def _mask(self, k, w, sparsity):
        return layer_mask(w, sparsity, self.spec.bias[k], self.prune_bias)

    def _array(self, name, shape, dtype, value):
        # Column-major: the weight streams walk each column's non-zeros in order (j outer,
        # i inner), so packing reads memory forward (sw/training/packing.py).
        if self.directory is None:
            a = np.empty(shape, dtype=dtype, order="F")
        else:
            a = np.lib.format.open_memmap(self.directory / f"{name}.npy", mode="w+",
                                          dtype=dtype, shape=shape, fortran_order=True)
        a[...] = value
        return a

    def prune(self, sparsity=None):
        """Recompute every mask by magnitude at ``sparsity`` (default: the store's own, per
        layer); weights and optimizer state outside the new masks become zero. Weights
        already pruned are zero, so a mask only shrinks or stays."""
        targets = self.sparsity if sparsity is None else (
            list(sparsity) if np.ndim(sparsity) else [sparsity] * len(self.weights))
        self.mask_version += 1
        for k, (w, s) in enumerate(zip(self.weights, targets)):
            s = check_sparsity(s, f"Layer {k} sparsity")
            self.masks[k][...] = self._mask(k, w, s)
            w *= self.masks[k]
            for a in self.state[k].values():
                a *= self.masks[k]

    def weight_masks(self):
        """Each layer's mask without its bias column."""
        return [m[:, :-1] if b else m for m, b in zip(self.masks, self.spec.bias)]

    def zero_fraction(self):
        """Fraction of all weights that are zero (masked), over every layer; biases are not
        counted."""
        masks = self.weight_masks()
        total = sum(m.size for m in masks)
        return 1.0 - sum(int(np.count_nonzero(m)) for m in masks) / total

    def arrays(self):
        """Every array by its checkpoint name: ``w<k>``, ``mask<k>``, ``<state><k>``."""
        out = {}
        for k, (w, m, st) in enumerate(zip(self.weights, self.masks, self.state)):
            out[f"w{k}"], out[f"mask{k}"] = w, m
            for name, a in st.items():
                out[f"{name}{k}"] = a
        return out

    def load_arrays(self, arrays):
        """Copy checkpointed arrays in (names and shapes must match, see :meth:`arrays`)."""
        mine = self.arrays()
        missing = sorted(set(mine) - set(arrays))
        if missing:
            raise ValueError(f"The checkpoint lacks arrays {', '.join(missing)}")
        for name, a in mine.items():
            if arrays[name].shape != a.shape:
                raise ValueError(f"Checkpoint array {name} has shape {arrays[name].shape}, "
                                 f"the model needs {a.shape}")
        for name, a in mine.items():
            a[...] = arrays[name]
        self.mask_version += 1
