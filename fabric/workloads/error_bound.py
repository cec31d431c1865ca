"""How far the fabric's products may lie from float64: a bound derived from its arithmetic.

The GEMV, GEMM and weight-gradient mappings all compute ``y = sum_k a_k b_k`` the same way
(docs/arithmetic.md): operands rounded to fp16 on entry, fp16 x fp16 products exact in fp32,
fp32 sums rounded to nearest even (DAZ inputs, FTZ results), and, where results leave as fp16,
an optional ReLU and one fp32 -> fp16 rounding. :func:`reference_bound` returns the float64
result of the fp16-rounded operands and, per entry, the largest distance the fabric's result
can have from it; :func:`chain_additions` counts the fp32 additions a product meets in the
mappings' summation (partial sums per PE, then a chain across the PEs).
"""

import numpy as np

from wafer_engine.fabric.workloads.common import from_fp16_bits, split, to_fp16_bits

__all__ = ["reference_bound", "chain_additions", "U32", "U16", "FP16_HALF_SUBNORMAL"]

#: Unit roundoff of fp32 round to nearest: half an ulp of 1 (relative error of one addition).
U32 = 2.0 ** -24
#: Unit roundoff of fp16 round to nearest (relative error of the fp32 -> fp16 conversion).
U16 = 2.0 ** -11
#: Half the fp16 subnormal step: the absolute error of rounding below 2^-14.
FP16_HALF_SUBNORMAL = 2.0 ** -25


def chain_additions(terms, parts):
    """fp32 additions on the longest path from one product to the result, when ``terms``
    products are split into ``parts`` contiguous slices (:func:`~.common.split`; the
    first slice is the longest), each slice summed in order from +0, and the slices' sums then
    added one after the other.

    The first product of a slice meets +0, which is exact (``p + 0 = p``; products are normal,
    at least 2^-48), so it meets ``len(slice) - 1`` rounded additions in its slice and
    ``parts - 1`` in the chain (the first slice's sum enters the chain unchanged, every later
    slice adds one). The mappings:

    * GEMV and GEMM: ``chain_additions(N, cols)``: the AXPYs / MACs of a PE over its column's
      input features, then the chain reduction along the row, one addition per column after
      the first (a zero-skipped term only shortens a path);
    * weight gradient: ``chain_additions(B, rows)``: GRAD over a PE's batch slice, then
      :func:`~.workloads.wgrad.reduce_partials` over the rows.
    """
    for name, value in (("Term count", terms), ("Part count", parts)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, not {value!r}")
    return max(len(split(terms, parts)[0]) - 1, 0) + parts - 1


def _fp16(a):
    return from_fp16_bits(to_fp16_bits(a)).astype(np.float64)


def reference_bound(a, b, additions, relu=False, fp16_result=True):
    """``(ref, bound)``: ``ref = a16 @ b16`` in float64 (``a16``, ``b16``: the operands rounded
    to fp16 as the fabric rounds them; ReLU'd if ``relu``), and ``bound`` (same shape) such
    that the fabric's result ``y`` of that product satisfies ``|y - ref| <= bound`` entry by
    entry. ``a``: M x N; ``b``: N or N x B; ``additions``: the fp32 additions on the longest
    path from a product to a result (:func:`chain_additions`), ``additions * 2^-24 < 1``;
    ``fp16_result``: the result is rounded to fp16 (GEMV, GEMM) or stays fp32 (gradients).

    Derivation, for one entry ``s = sum_k p_k``, ``p_k = a16_k b16_k``:

    1. Operand rounding: ``ref`` uses the rounded operands, so it adds no error.
    2. Products: exact in fp32 (11-bit x 11-bit significands; |p| in [2^-48, 2^32)).
    3. Additions: an fp32 addition of normal numbers returns ``(x + y)(1 + d)`` with
       ``|d| <= u = 2^-24`` (round to nearest even), unless the result is below 2^-126, which
       is flushed to zero (FTZ: an absolute error up to 2^-126). That never happens here:
       every partial sum is an integer multiple of 2^-71. Products are multiples of 2^-48
       (fp16 values are multiples of 2^-24); the exact sum of two multiples of 2^-71 is one,
       and rounding it keeps it one (at or above 2^-48 the fp32 grid is 2^-71 or coarser;
       below, it has at most 23 significant bits and is exact). So a non-zero partial sum is
       at least 2^-71, never flushed, and no input is subnormal (DAZ changes nothing). The
       absolute FTZ term is therefore 0. A product meeting ``h_k <= n = additions``
       roundings is scaled by at most ``(1 + u)^h_k - 1 <= gamma_n = n u / (1 - n u)``
       (Higham, Accuracy and Stability of Numerical Algorithms, lemma 3.1), for any order of
       the sum: ``|s32 - s| <= e32 = gamma_n sum_k |p_k|``.
    4. ReLU: ``max(., 0)`` is 1-Lipschitz, so ``|relu(s32) - relu(s)| <= e32`` too.
    5. fp16 rounding (``fp16_result``): to nearest even, relative ``2^-11`` in the normal range,
       absolute at most ``2^-25`` (half the subnormal step) below it, so
       ``|y - s32| <= 2^-11 |s32| + 2^-25`` with ``|s32| <= |ref| + e32``. A result that drops
       out as zero (never sent) is one that rounded to an fp16 zero, inside this term.

    Total: ``bound = e32 + 2^-11 (|ref| + e32) + 2^-25`` (just ``e32`` for fp32 results).
    Not covered: results at or beyond the fp16 range (65520 and up give inf: the bound is
    finite and rejects them) and fp32 overflow (impossible for fp16 operands and fewer than
    2^24 terms).

    Raises ``ValueError`` for operands whose shapes do not multiply and for an ``additions``
    that is not a non-negative integer below 2^24.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim not in (1, 2) or a.shape[1] != b.shape[0]:
        raise ValueError(f"Operands of shapes {a.shape} and {b.shape} do not multiply")
    if not isinstance(additions, (int, np.integer)) or isinstance(additions, bool) \
            or not 0 <= additions < 2 ** 24:
        raise ValueError(f"Additions must be an integer in [0, 2^24), not {additions!r}")
    a16, b16 = _fp16(a), _fp16(b)
    ref = a16 @ b16
    n = int(additions)
    gamma = n * U32 / (1 - n * U32)
    e32 = gamma * (np.abs(a16) @ np.abs(b16))
    if relu:
        ref = np.maximum(ref, 0)
    if not fp16_result:
        return ref, e32
    return ref, e32 + U16 * (np.abs(ref) + e32) + FP16_HALF_SUBNORMAL
