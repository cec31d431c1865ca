"""Pieces shared by the workload mappings: splitting, fp16 conversion, the Workload record."""

from dataclasses import dataclass

import numpy as np

from wafer_engine.fabric.program.program import ArrayProgram

__all__ = ["split", "to_fp16_bits", "from_fp16_bits", "Workload", "check_finite",
           "collect_vector"]


def split(n, parts):
    """``parts`` contiguous ranges covering ``range(n)``, the first ones one longer."""
    base, extra = divmod(n, parts)
    bounds = [0]
    for k in range(parts):
        bounds.append(bounds[-1] + base + (k < extra))
    return [range(bounds[k], bounds[k + 1]) for k in range(parts)]


def to_fp16_bits(a):
    """Round an array to fp16 (round to nearest even) and return its bit patterns."""
    return np.asarray(a, dtype=np.float64).astype(np.float16).view(np.uint16)


def from_fp16_bits(bits):
    return np.asarray(bits, dtype=np.uint16).view(np.float16)


@dataclass
class Workload:
    """An array program and its input phases: ``phases`` is a list of
    ``{(edge, position): [Wavelet]}``, each entering after the array went quiet from the
    previous one. ``outputs`` says where results leave: ``(edge, position)`` list."""
    program: ArrayProgram
    phases: list
    outputs: list
    length: int     #: length of the result vector


def check_finite(name, a):
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} holds NaN or infinite values")
    if np.any(np.abs(a) > 65504):
        raise ValueError(f"{name} holds values beyond the fp16 range (|v| > 65504)")


def collect_vector(outputs, length):
    """The fp32 result vector from ``(value, index)`` output wavelets (absent = +0)."""
    y = np.zeros(length, dtype=np.float32)
    for stream in outputs:
        for _, w in stream:
            y[w.index] = from_fp16_bits([w.value])[0]
    return y
