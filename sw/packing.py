"""Host-side wavelet packing for weight streaming, vectorised.

A layer's non-zero weights leave the weight store as one ``uint32`` payload array per array
column, ``(index << 16) | fp16 value`` with ``index = (i << jbits) | j_local``, in the stream
order of :func:`fabric.workloads.gemm.gemm_program` (``j`` outer, ``i`` inner). This is the
same stream the mapping builds wavelet by wavelet, produced with whole-array numpy operations
so the host keeps ahead of the fabric (docs/training.md measures both rates).
"""

from dataclasses import dataclass

import numpy as np

from fabric.workloads.common import split, to_fp16_bits
from fabric.workloads.gemm import _jbits

__all__ = ["PackedLayer", "pack_weights", "unpack_weights"]


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


def pack_weights(weights, mask, cols):
    """Pack the non-zero fp16 weights of ``weights * mask`` (M x N) for ``cols`` columns.

    Weights that round to an fp16 zero are not sent (zeros cost nothing on the fabric)."""
    w16 = to_fp16_bits(np.where(mask, weights, 0))
    m, n = w16.shape
    payloads = []
    for features in split(n, cols):
        block = w16[:, features.start:features.stop]
        # Column-major over the block: j outer, i inner, as the mapping streams them.
        j, i = np.nonzero((block & 0x7FFF).T)
        index = (i.astype(np.uint32) << _jbits(len(features))) | j.astype(np.uint32)
        payloads.append((index << 16) | block[i, j].astype(np.uint32))
    return PackedLayer(payloads, (m, n), cols)


def unpack_weights(packed):
    """fp16 bit patterns (M x N) of a :class:`PackedLayer` (zeros where nothing was sent)."""
    m, n = packed.shape
    w16 = np.zeros((m, n), dtype=np.uint16)
    for features, p in zip(split(n, packed.cols), packed.payloads):
        jbits = _jbits(len(features))
        index = p >> 16
        w16[index >> jbits, features.start + (index & ((1 << jbits) - 1))] = p & 0xFFFF
    return w16
