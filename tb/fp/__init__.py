"""Floating-point test vectors: directed corner patterns and random operands biased toward them.

Shared by the cocotb module (:mod:`wafer_engine.tb.fp.test_fp`) and the numpy model tests. Uniform random
bit patterns almost never produce ties, cancellations, overflows or subnormals, so each
generator mixes uniform bits with classes built to hit those cases; every generator takes a
``numpy.random.Generator`` and a count and returns ``uint16``/``uint32`` arrays.
"""

import numpy as np

__all__ = ["FP16_CORNERS", "FP32_CORNERS", "fp16_operands", "add_operands", "to16_operands",
           "corner_pairs"]

#: fp16 patterns every multiplier test crosses with each other: signed zeros, infinities,
#: quiet and signalling NaNs of both signs, smallest/largest subnormals and normals, values
#: around 1, and the largest finite number.
FP16_CORNERS = [
    0x0000, 0x8000, 0x7C00, 0xFC00,                 # +-0, +-inf
    0x7E00, 0xFE00, 0x7FFF, 0x7C01, 0xFD55,          # quiet and signalling NaNs
    0x0001, 0x8001, 0x0002, 0x0155, 0x0200, 0x03FF, 0x83FF,  # subnormals
    0x0400, 0x8400, 0x0401, 0x07FF,                 # smallest normals
    0x3BFF, 0x3C00, 0xBC00, 0x3C01, 0x3E00, 0x4000, 0xC200,  # around 1
    0x7BFE, 0x7BFF, 0xFBFF, 0x5BFF, 0x1000,          # largest normals, mixed
]

#: fp32 patterns crossed with each other for the adder and fed to the converter.
FP32_CORNERS = [
    0x00000000, 0x80000000, 0x7F800000, 0xFF800000,         # +-0, +-inf
    0x7FC00000, 0xFFC00000, 0x7FFFFFFF, 0x7F800001, 0xFFA00000,  # quiet and signalling NaNs
    0x00000001, 0x807FFFFF, 0x00400000,                      # subnormals (DAZ)
    0x00800000, 0x80800000, 0x00800001, 0x00FFFFFF, 0x01000000,  # smallest normals
    0x3F800000, 0xBF800000, 0x3F800001, 0x3F7FFFFF, 0x3FFFFFFF, 0x40000000,
    0x33800000, 0xB3800000, 0x33000000, 0x33400000, 0x33800001,  # half/quarter ulps of 1
    0x7F7FFFFF, 0xFF7FFFFF, 0x7F7FFFFE, 0x73000000, 0x72800000,  # max normal, ulp/2, ulp/4
    0x477FE000, 0x477FF000, 0x477FEFFF, 0x477FF001, 0x47800000,  # fp16 max / overflow tie
    0x38800000, 0x387FE000, 0x387FF000, 0x33FFFFFF, 0x33000001,  # fp16 subnormal edges
]


def corner_pairs(corners):
    """Every ordered pair of ``corners`` as two arrays ``(a, b)``."""
    c = np.asarray(corners, dtype=np.int64)
    a, b = np.meshgrid(c, c, indexing="ij")
    return a.ravel(), b.ravel()


def _pick(rng, n, weights):
    """A category index in ``range(len(weights))`` per element, drawn with those weights."""
    w = np.asarray(weights, dtype=float)
    return rng.choice(len(w), size=n, p=w / w.sum())


def _select(category, choices):
    """Element i of ``choices[category[i]]`` (every choice is a full-length array)."""
    out = np.zeros(category.shape, dtype=np.int64)
    for k, choice in enumerate(choices):
        out = np.where(category == k, choice, out)
    return out


def _fp16(sign, exp, man):
    return ((sign << 15) | (exp << 10) | man).astype(np.uint16)


def _fp32(sign, exp, man):
    return ((sign << 31) | (exp << 23) | man).astype(np.uint32)


def fp16_operands(rng, n):
    """``n`` fp16 patterns: uniform bits, corners, subnormals, normals and extreme binades."""
    sign = rng.integers(0, 2, n)
    man = rng.integers(0, 1 << 10, n)
    extreme_man = rng.choice(np.array([0, 1, 0x3FF, 0x3FE, 0x200]), n)
    return _select(_pick(rng, n, [2, 1.5, 1.5, 4, 1]), [
        rng.integers(0, 1 << 16, n),                          # uniform bits
        rng.choice(np.array(FP16_CORNERS), n),                # corners
        _fp16(sign, 0, man),                                  # subnormals
        _fp16(sign, rng.integers(1, 31, n), man),             # normals
        _fp16(sign, rng.choice(np.array([1, 2, 29, 30]), n), extreme_man),
    ]).astype(np.uint16)


def _fp32_normal(rng, n, exp):
    return _fp32(rng.integers(0, 2, n), exp, rng.integers(0, 1 << 23, n))


def add_operands(rng, n):
    """``n`` fp32 operand pairs ``(a, b)`` biased toward the adder's hard cases.

    Classes: uniform bits; corner patterns; exponents near each other (small alignment shifts,
    where carries and cancellation happen) and around 24..27 apart (where the smaller operand
    turns into guard/sticky bits); exact and near cancellation; exact round-to-even ties; a
    carry out of rounding; near overflow; near underflow (results flushed to zero).
    """
    a = _fp32_normal(rng, n, rng.integers(1, 255, n)).astype(np.int64)
    a = np.where(rng.random(n) < 0.2, rng.integers(0, 1 << 32, n), a)
    a = np.where(rng.random(n) < 0.05, rng.choice(np.array(FP32_CORNERS), n), a)
    sa, ea, ma = a >> 31, (a >> 23) & 0xFF, a & 0x7FFFFF
    sign = rng.integers(0, 2, n)
    other_sign = sa ^ 1

    # Exponent gaps: mostly small, some around the guard/sticky boundary, a few far.
    gap = _select(_pick(rng, n, [6, 2, 1]), [
        rng.integers(-3, 4, n), rng.integers(22, 29, n) * rng.choice([-1, 1], n),
        rng.integers(-60, 61, n)])
    near = _fp32_normal(rng, n, np.clip(ea + gap, 1, 254))

    # Cancellation: -a exactly, or -a a few ulps away (the difference needs a long left shift).
    exact_cancel = a ^ (1 << 31)
    near_cancel = _fp32(other_sign, ea, np.clip(ma + rng.integers(-4, 5, n), 0, 0x7FFFFF))

    # Ties: b's bits below a's last place are exactly 100..0. p is the number of b's
    # significand bits that fall below a's ulp: d for a plain sum, d + 1 when the sum carries
    # into a new binade, d - 1 when a difference loses one; random signs cover all three.
    d = rng.integers(1, 26, n)
    p = np.clip(d + rng.integers(-1, 2, n), 1, 24)
    high = rng.integers(0, 1 << 24, n) >> p << p
    tie_sig = (high | (1 << (p - 1))) | (1 << 23)
    tie = _fp32(sign, np.clip(ea - d, 1, 254), tie_sig & 0x7FFFFF)

    # Carry out of rounding: a's fraction all ones (or nearly), b of a's sign about half an ulp.
    carry_a = _fp32(sa, np.clip(ea, 25, 254), 0x7FFFFF - rng.integers(0, 2, n))
    carry_b = _fp32(sa, np.clip(ea, 25, 254) - 24, rng.integers(0, 1 << 23, n) & ~0xFFFFF)

    # Near overflow: both operands in the top binades, same sign.
    top_a = _fp32(sa, rng.integers(252, 255, n), rng.integers(0x700000, 0x800000, n))
    top_b = _fp32(sa, rng.integers(230, 255, n), rng.integers(0, 1 << 23, n))

    # Near underflow: close opposite-signed values in the lowest binades (results below 2**-126).
    low_a = _fp32(sa, rng.integers(1, 4, n), ma)
    low_b = _fp32(other_sign, (low_a >> 23) & 0xFF, np.clip(ma + rng.integers(-9, 10, n), 0,
                                                          0x7FFFFF))

    cat = _pick(rng, n, [1, 1, 4, 0.5, 1.5, 2, 0.5, 0.5, 1, 0.5])
    first = _select(cat, [a, a, a, a, a, a, carry_a, top_a, low_a, a])
    second = _select(cat, [
        rng.integers(0, 1 << 32, n),                  # uniform bits
        rng.choice(np.array(FP32_CORNERS), n),        # corners
        near, exact_cancel, near_cancel, tie, carry_b, top_b, low_b,
        _fp32(sign, np.clip(ea, 1, 254), ma),         # equal magnitudes, random sign
    ])
    # Either operand order: the adder must not depend on which one is larger.
    swap = rng.random(n) < 0.5
    first, second = np.where(swap, second, first), np.where(swap, first, second)
    return first.astype(np.uint32), second.astype(np.uint32)


def to16_operands(rng, n):
    """``n`` fp32 patterns biased toward fp16 rounding cases.

    Classes: uniform bits; corner patterns; values across the fp16 range (from below the
    smallest subnormal to above the overflow threshold); exact ties at the rounding position
    (normal and subnormal) and one fp32 ulp either side; carries out of rounding; values just
    below and above 65520, the tie between the largest fp16 and inf.
    """
    sign = rng.integers(0, 2, n)
    exp = rng.integers(100, 144, n)
    man = rng.integers(0, 1 << 23, n)
    # Dropped bit count at each exponent (13 for normals, one more per binade below 2**-14).
    drop = np.clip(126 - exp, 13, 24)
    tie_man = ((man >> drop << drop) | (1 << (drop - 1))) & 0x7FFFFF
    tie_man = np.clip(tie_man + rng.integers(-1, 2, n), 0, 0x7FFFFF)
    carry_man = (0x7FFFFF >> drop << drop) | rng.integers(0, 1 << 23, n) & ((1 << drop) - 1)
    near_max = 0x7FF000 + rng.integers(-64, 64, n)
    return _select(_pick(rng, n, [1.5, 1, 3, 2, 1, 1]), [
        rng.integers(0, 1 << 32, n),
        rng.choice(np.array(FP32_CORNERS), n),
        _fp32(sign, exp, man),
        _fp32(sign, exp, tie_man),
        _fp32(sign, exp, carry_man),
        _fp32(sign, 142, np.clip(near_max, 0, 0x7FFFFF)),
    ]).astype(np.uint32)
