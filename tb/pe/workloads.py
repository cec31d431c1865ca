"""Random PE workloads: fp16 data, sparse vectors, and the AXPY / MAC problems of the
gemv-checkerboard and weight-streaming mappings, as programs plus wavelet streams."""

from typing import NamedTuple

import numpy as np

from wafer_engine.fabric.program.pe_task import PeProgram, Task
from wafer_engine.fabric.model.wavelet import Wavelet

__all__ = ["random_fp16", "sparse_fp16", "Problem", "axpy_problem", "mac_problem",
           "small_ints"]

_FP16_SPECIALS = np.array([0x0001, 0x03FF, 0x8001, 0x0400, 0x7BFF, 0xFBFF, 0x8000],
                          dtype=np.uint16)


def random_fp16(rng, n, scale=1.0, special_rate=0.0):
    """``n`` fp16 bit patterns, normal with standard deviation ``scale``; a fraction
    ``special_rate`` replaced by subnormals, the largest finite values and ``-0``."""
    values = (rng.standard_normal(n) * scale).astype(np.float16).view(np.uint16)
    special = rng.random(n) < special_rate
    values[special] = rng.choice(_FP16_SPECIALS, special.sum())
    return values


def sparse_fp16(rng, n, density, **kwargs):
    """``n`` fp16 patterns of which a fraction ``1 - density`` are +0 or -0."""
    values = random_fp16(rng, n, **kwargs)
    values[values & 0x7FFF == 0] = 0x3C00     # only the chosen positions are zero
    zero = rng.random(n) >= density
    values[zero] = rng.choice(np.array([0x0000, 0x8000], dtype=np.uint16), zero.sum())
    return values


def small_ints(rng, shape, lo=-4, hi=4):
    """fp16 bit patterns of small integers: their products and sums are exact in fp32, so
    results can be checked against plain float arithmetic."""
    return rng.integers(lo, hi + 1, shape).astype(np.float16).view(np.uint16)


class Problem(NamedTuple):
    """A program to load, the wavelets to stream, and the data behind them."""
    program: PeProgram
    wavelets: list
    data: dict


def axpy_problem(rng, params, *, color, length, rows, density, mem_a=0, acc=0,
                 zero_skip=True, send_zeros=0.5, special_rate=0.0):
    """Weights resident (``rows x length`` at ``mem_a``), activations streaming: one wavelet
    per index whose value is non-zero, plus a fraction ``send_zeros`` of the zero ones (so
    zero skip has something to skip)."""
    weights = random_fp16(rng, rows * length, special_rate=special_rate)
    x = sparse_fp16(rng, rows, density, special_rate=special_rate)
    order = rng.permutation(rows)
    wavelets = [Wavelet.half(color, int(x[r]), int(r)) for r in order
                if x[r] & 0x7FFF or rng.random() < send_zeros]
    task = Task("AXPY", len=length, mem_a=mem_a, acc=acc, rows=rows, zero_skip=zero_skip)
    program = PeProgram({color: task}, mem={mem_a: weights.tolist()}, params=params)
    return Problem(program, wavelets, {"weights": weights, "x": x})


def mac_problem(rng, params, *, color, length, rows, cols, density, jbits, mem_a=0, acc=0,
                zero_skip=True, send_zeros=0.5, special_rate=0.0):
    """Activations resident (``cols x length`` at ``mem_a``), weights ``w[i][j]`` streaming as
    ``(value, i << jbits | j)`` in random order; zeros as in :func:`axpy_problem`."""
    x = random_fp16(rng, cols * length, special_rate=special_rate)
    w = sparse_fp16(rng, rows * cols, density, special_rate=special_rate).reshape(rows, cols)
    wavelets = []
    for flat in rng.permutation(rows * cols):
        i, j = divmod(int(flat), cols)
        if w[i, j] & 0x7FFF or rng.random() < send_zeros:
            wavelets.append(Wavelet.half(color, int(w[i, j]), i << jbits | j))
    task = Task("MAC", len=length, mem_a=mem_a, acc=acc, rows=rows, cols=cols, jbits=jbits,
                zero_skip=zero_skip)
    program = PeProgram({color: task}, mem={mem_a: x.tolist()}, params=params)
    return Problem(program, wavelets, {"x": x, "w": w})
