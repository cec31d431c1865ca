"""Host-side wavelet packing for weight streaming, vectorised.

A layer's non-zero weights leave the weight store as one ``uint32`` payload array per array
column, ``(index << 16) | fp16 value`` with ``index = (i << jbits) | j_local``, in the stream
order of :func:`wafer_engine.fabric.workloads.gemm.gemm_program` (``j`` outer, ``i`` inner). This is the
same stream the mapping builds wavelet by wavelet, produced with whole-array numpy operations
so the host keeps ahead of the fabric (docs/results.md measures both rates).

The positions and index bits depend on the mask only, which changes when the layer is pruned,
not every step: :class:`PackPlan` computes them once, and :func:`pack_weights` then only
gathers, converts and merges the values. The weight store keeps its matrices column-major
(Fortran order), so that gather walks memory forward.
"""

from dataclasses import dataclass

import numpy as np

from wafer_engine.fabric.workloads.common import split
from wafer_engine.fabric.workloads.gemm import feature_index_bits

__all__ = ["PackedLayer", "PackPlan", "pack_weights", "unpack_weights"]

#: Width of a wavelet's index field (the high half of its payload).
_INDEX_BITS = 16


@dataclass
class PackedLayer:
    """A packed weight stream: ``payloads[c]`` enters array column ``c``; ``shape`` is W's
    (M, N); ``cols`` the array's column count it was split for."""
    payloads: list
    shape: tuple
    cols: int

    @property
    def wavelets(self):
        return sum(len(p) for p in self.payloads)


class PackPlan:
    """Where the mask's weights sit and what index each carries, per array column.

    ``positions``: flat positions in column-major order (``j * M + i``), ascending, so one
    gather serves every column; ``bounds[c]:bounds[c + 1]`` is column ``c``'s share;
    ``index_bits``: ``index << 16`` of each.

    Raises ``ValueError`` if the mask is not a matrix, or if it has more rows than the 16-bit
    index ``(i << jbits) | j_local`` can address with the widest column's ``jbits``.
    """

    def __init__(self, mask, cols):
        mask = np.asarray(mask, dtype=bool)
        if mask.ndim != 2:
            raise ValueError(f"The mask must be a matrix, not of shape {mask.shape}")
        m, n = mask.shape
        self.shape, self.cols = (m, n), cols
        features = len(split(n, cols)[0])
        jbits = feature_index_bits(features)
        # The index travels in the wavelet's 16-bit index field; wider ones would lose bits.
        limit = 1 << (_INDEX_BITS - jbits) if jbits <= _INDEX_BITS else 0
        if m > limit:
            raise ValueError(f"W has {m} rows; the 16-bit weight index (i << {jbits}) | j of "
                             f"{features} input features per array column addresses at most "
                             f"{limit}")
        flat = np.flatnonzero(mask.reshape(-1, order="F"))
        j, i = np.divmod(flat, m)
        self.positions = flat
        self.bounds = [0]
        index = np.empty(len(flat), dtype=np.uint32)
        for features in split(n, cols):
            lo = self.bounds[-1]
            hi = lo + int(np.searchsorted(j[lo:], features.stop))
            index[lo:hi] = ((i[lo:hi].astype(np.uint32) << feature_index_bits(len(features)))
                            | (j[lo:hi] - features.start).astype(np.uint32))
            self.bounds.append(hi)
        self.index_bits = index << 16


def pack_weights(weights, mask, cols, plan=None):
    """Pack the non-zero fp16 weights of ``weights * mask`` (M x N) for ``cols`` columns.

    ``plan``: a :class:`PackPlan` of this mask (made here if not given). Weights that round to
    an fp16 zero are not sent (zeros cost nothing on the fabric). Raises ``ValueError``, before
    packing anything, if the mask's (or plan's) shape is not the weights', or the weights have
    more rows than the 16-bit index addresses (see :class:`PackPlan`)."""
    weights = np.asarray(weights)
    mask_shape = np.shape(mask)
    if mask_shape != weights.shape:
        raise ValueError(f"Mask of shape {mask_shape} does not match weights of shape "
                         f"{weights.shape}")
    plan = plan or PackPlan(mask, cols)
    if plan.shape != weights.shape:
        raise ValueError(f"Pack plan of shape {plan.shape} does not match weights of shape "
                         f"{weights.shape}")
    values = weights.reshape(-1, order="F")[plan.positions]
    # float32 -> float16 rounds to nearest even directly (float64 holds every float32).
    half = values.astype(np.float16).view(np.uint16)
    payload = plan.index_bits | half
    keep = (half & 0x7FFF) != 0
    payloads = [payload[lo:hi][keep[lo:hi]]
                for lo, hi in zip(plan.bounds[:-1], plan.bounds[1:])]
    return PackedLayer(payloads, plan.shape, cols)


def unpack_weights(packed):
    """fp16 bit patterns (M x N) of a :class:`PackedLayer` (zeros where nothing was sent)."""
    m, n = packed.shape
    w16 = np.zeros((m, n), dtype=np.uint16)
    for features, p in zip(split(n, packed.cols), packed.payloads):
        jbits = feature_index_bits(len(features))
        index = p >> 16
        w16[index >> jbits, features.start + (index & ((1 << jbits) - 1))] = p & 0xFFFF
    return w16
