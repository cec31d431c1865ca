"""How far the fabric's logits can be from exact ones: a bound propagated through the layers,
for comparing the host's evaluation on the fabric's arithmetic with float64 or with PyTorch's
float32 forward pass of the same (exported) weights."""

import numpy as np

from wafer_engine.fabric.workloads.error_bound import U32, chain_additions, reference_bound

__all__ = ["logits_bound", "decisive"]


def _fp16(a):
    return np.asarray(a, dtype=np.float64).astype(np.float16).astype(np.float64)


def logits_bound(weights, acts, cols, bias=None, float32=False):
    """``(z, d)``: float64 logits ``z`` of the stored matrices ``weights`` (the fp32 master
    weights, as the Float64Engine computes them) from the samples ``acts[0]``, and ``d`` with
    ``|z_fabric - z| <= d`` entry by entry, propagated layer by layer from the fabric's layer
    inputs ``acts`` (:meth:`~wafer_engine.sw.training.trainer.Trainer.forward`: each with its
    row of ones when the layer has a bias; ``bias``: per layer, default none). ``cols``: the
    array's columns (the chain reduction's length).

    Per layer, with ``h'`` the fabric's input (the samples, then fp16 results) and ``d`` its
    bound against the float64 input ``h``: ``|y' - relu(W16 h'16)| <= b`` (reference_bound:
    the fabric's own arithmetic), and ``|W16 h'16 - W h| <= |W16 - W| |h'16| + |W| (|h'16 - h'|
    + d)`` (operand rounding, known exactly here, and the error carried in); ReLU is
    1-Lipschitz. The sum is the next ``d``. A row of ones is exact on both sides.

    ``float32``: ``d`` also covers the distance from ``z`` of a float32 evaluation ``z32`` of
    the same weights (any summation order), so ``|z_fabric - z32| <= d``: per layer of ``n``
    inputs, ``|fl32(W h32) - W h| <= gamma_n |W| (|h| + e) + |W| e`` with ``e`` the float32
    error carried in and ``gamma_n = n u / (1 - n u)``, ``u = 2^-24`` (Higham, lemma 3.1)."""
    bias = [False] * len(weights) if bias is None else list(bias)
    h = np.asarray(acts[0], dtype=np.float64)
    d = np.zeros_like(h)
    e = np.zeros_like(h)
    last = len(weights) - 1
    for k, w in enumerate(weights):
        w, fabric_in = np.asarray(w, dtype=np.float64), np.asarray(acts[k], dtype=np.float64)
        if k > 0 and bias[k]:
            ones = np.ones((1, h.shape[1]))
            h, d, e = (np.concatenate([h, ones]), np.concatenate([d, 0 * ones]),
                       np.concatenate([e, 0 * ones]))
        _, b = reference_bound(w, fabric_in, chain_additions(w.shape[1], cols), k < last)
        h16 = _fp16(fabric_in)
        d = b + np.abs(_fp16(w) - w) @ np.abs(h16) + np.abs(w) @ (np.abs(h16 - fabric_in) + d)
        n = w.shape[1]
        gamma = n * U32 / (1 - n * U32)
        e = gamma * np.abs(w) @ (np.abs(h) + e) + np.abs(w) @ e
        h = w @ h if k == last else np.maximum(w @ h, 0)
    return h, d + e if float32 else d


def decisive(logits, d):
    """Per sample (columns of ``logits``, classes x B): whether its top logit beats every other
    by more than the two logits' bounds ``d`` together (the top one's plus the largest of the
    others'), so any logits within ``d`` of these pick the same class."""
    cols = np.arange(logits.shape[1])
    top = np.argmax(logits, axis=0)
    others = logits.copy()
    others[top, cols] = -np.inf
    d_others = d.copy()
    d_others[top, cols] = -np.inf
    gap = logits[top, cols] - others.max(axis=0)
    return gap > d[top, cols] + d_others.max(axis=0)
