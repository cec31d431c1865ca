"""The fp golden model (wafer_engine.fabric.model.fp_model) against numpy floats and hand-derived bit patterns.

numpy's float32/float16 arithmetic is IEEE with gradual underflow, so it is an independent
reference wherever the hardware policy coincides with IEEE; where it does not (DAZ/FTZ in the
adder), the reference is numpy on DAZ-flushed inputs with subnormal results flushed by hand.
The directed tables were derived from the IEEE formats by hand (derivations in the comments).
"""

import numpy as np
import pytest

from wafer_engine.fabric.model.fp_model import (FP16_QNAN, FP32_QNAN, fp16_mul, fp32_add, fp32_relu,
                             fp32_to_fp16)
from wafer_engine.tb.fp import FP16_CORNERS, add_operands, fp16_operands, to16_operands

N = 1_000_000


@pytest.fixture
def rng():
    return np.random.default_rng(2024)


def f32(bits):
    return np.asarray(bits, dtype=np.uint32).view(np.float32)


def bits32(x):
    return np.asarray(x, dtype=np.float32).view(np.uint32)


def is_subnormal32(bits):
    bits = np.asarray(bits, dtype=np.uint32)
    return ((bits >> 23) & 0xFF == 0) & (bits & 0x7FFFFF != 0)


def daz(bits):
    """fp32 subnormal patterns replaced by zeros of their sign."""
    bits = np.asarray(bits, dtype=np.uint32)
    return np.where(is_subnormal32(bits), bits & 0x80000000, bits).astype(np.uint32)


# --- numpy cross-checks ---------------------------------------------------------------------

def check_mul(a, b):
    got = fp16_mul(a, b)
    fa = np.asarray(a, dtype=np.uint16).view(np.float16).astype(np.float32)
    fb = np.asarray(b, dtype=np.uint16).view(np.float16).astype(np.float32)
    with np.errstate(invalid="ignore"):
        ref = fa * fb                   # exact: fp16 products fit fp32, see fp16_mul
    nan = np.isnan(ref)
    assert np.array_equal(got[~nan], bits32(ref)[~nan])
    assert np.all(got[nan] == FP32_QNAN)


def test_mul_matches_numpy(rng):
    """1M biased pairs (subnormals, specials, extremes): exactly float32(a) * float32(b)."""
    a, b = fp16_operands(rng, N), fp16_operands(rng, N)
    assert np.mean((a >> 10) & 0x1F == 0) > 0.1     # many zero/subnormal operands
    check_mul(a, b)


def test_mul_every_fp16_times_corners():
    """All 65,536 fp16 patterns times each corner pattern (2.1M products)."""
    every = np.arange(1 << 16, dtype=np.uint16)
    a = np.repeat(every, len(FP16_CORNERS))
    b = np.tile(np.asarray(FP16_CORNERS, dtype=np.uint16), len(every))
    check_mul(a, b)


def test_add_matches_numpy_where_ieee(rng):
    """1M biased pairs: identical to numpy float32 addition whenever no subnormal is involved
    (inputs or result), which is where DAZ/FTZ and IEEE agree; NaNs are canonical."""
    a, b = add_operands(rng, N)
    got = fp32_add(a, b)
    with np.errstate(all="ignore"):
        ref = bits32(f32(a) + f32(b))
    nan = np.isnan(f32(ref))
    ieee = ~is_subnormal32(a) & ~is_subnormal32(b) & ~is_subnormal32(ref) & ~nan
    assert ieee.mean() > 0.85, "too few vectors where the policies coincide"
    assert np.array_equal(got[ieee], ref[ieee])
    assert np.all(got[nan] == FP32_QNAN)


def test_add_daz_ftz_policy(rng):
    """1M biased pairs, all of them: numpy on DAZ-flushed inputs, subnormal results flushed to
    a zero of their sign, NaNs canonical."""
    a, b = add_operands(rng, N)
    got = fp32_add(a, b)
    with np.errstate(all="ignore"):
        ref = bits32(f32(daz(a)) + f32(daz(b)))
    flushed = is_subnormal32(ref)
    assert flushed.mean() > 0.02, "the generator should produce results below 2**-126"
    ref = np.where(flushed, ref & 0x80000000, ref)
    nan = np.isnan(f32(ref))
    assert np.array_equal(got[~nan], ref[~nan])
    assert np.all(got[nan] == FP32_QNAN)


def check_to16(x):
    got = fp32_to_fp16(x)
    with np.errstate(over="ignore"):
        ref = f32(x).astype(np.float16).view(np.uint16)
    # numpy rounds fp32 subnormals (< 2**-126) to a signed zero as well: DAZ coincides.
    nan = np.isnan(f32(x))
    assert np.array_equal(got[~nan], ref[~nan])
    assert np.all(got[nan] == FP16_QNAN)


def test_to16_matches_numpy(rng):
    """1M biased values plus 1M uniform bit patterns: exactly numpy's float32 -> float16."""
    check_to16(to16_operands(rng, N))
    check_to16(rng.integers(0, 1 << 32, N, dtype=np.uint64).astype(np.uint32))


@pytest.mark.regress
def test_to16_exhaustive_fp16_range():
    """Every fp32 pattern with exponent field 96..145, both signs (838M values): all of the
    fp16 range with its subnormals, the underflow to zero and the overflow to inf."""
    for exp in range(96, 146):
        for sign in (0, 1):
            base = (sign << 31) | (exp << 23)
            check_to16(np.arange(base, base + (1 << 23), dtype=np.uint32))


def test_relu_matches_float_max(rng):
    """max(x, 0) for every non-NaN value, never -0; NaNs pass through unchanged."""
    x = np.concatenate([rng.integers(0, 1 << 32, N, dtype=np.uint64).astype(np.uint32),
                        to16_operands(rng, N)])
    got = fp32_relu(x)
    nan = np.isnan(f32(x))
    assert np.all(f32(got[~nan]) == np.maximum(f32(x[~nan]), np.float32(0)))
    assert not np.any(got == 0x80000000)
    assert np.array_equal(got[nan], x[nan])


# --- generator coverage ---------------------------------------------------------------------

def test_add_operands_hit_rounding_classes(rng):
    """The biased adder operands produce ties rounded both ways, carries into a new binade,
    overflow, flushed results and exact cancellation (measured with float64, which holds the
    exact sum of two fp32 normals up to 29 binades apart)."""
    a, b = add_operands(rng, 200_000)
    with np.errstate(invalid="ignore"):         # signalling NaNs quieten on conversion
        fa, fb = f32(a).astype(np.float64), f32(b).astype(np.float64)
    ea, eb = (a >> 23) & 0xFF, (b >> 23) & 0xFF
    normal = (ea > 0) & (ea < 255) & (eb > 0) & (eb < 255)
    exact = normal & (np.abs(ea.astype(np.int64) - eb) <= 29)
    with np.errstate(all="ignore"):
        s = fa + fb
        r = s.astype(np.float32)
        toward = np.where(s > r, np.float32(np.inf), np.float32(-np.inf))
        mid = (r.astype(np.float64) + np.nextafter(r, toward).astype(np.float64)) / 2
    rounded = exact & np.isfinite(r) & (np.abs(r) >= 2.0 ** -126) & (s != r)
    tie = rounded & (s == mid)
    away = np.abs(r) > np.abs(s)
    assert np.mean(tie & away) > 0.02 and np.mean(tie & ~away) > 0.02
    assert np.mean(rounded & away & (bits32(r) & 0x7FFFFF == 0)) > 0.005   # carry to binade
    assert np.mean(normal & np.isinf(r)) > 0.002                           # overflow
    assert np.mean(exact & (s != 0) & (np.abs(s) < 2.0 ** -126)) > 0.02    # flushed
    assert np.mean(normal & (s == 0)) > 0.02                               # cancellation


def test_to16_operands_hit_rounding_classes(rng):
    """The biased converter operands produce ties (normal and subnormal, rounded both ways),
    overflow to inf and subnormal results."""
    x = to16_operands(rng, 200_000)
    with np.errstate(all="ignore"):
        xx = f32(x).astype(np.float64)
        h = f32(x).astype(np.float16)
        toward = np.where(xx > h, np.float16(np.inf), np.float16(-np.inf))
        mid = (h.astype(np.float64) + np.nextafter(h, toward).astype(np.float64)) / 2
    finite = np.isfinite(xx) & np.isfinite(h.astype(np.float64))
    tie = finite & (xx != h) & (xx == mid)
    sub = np.abs(h.astype(np.float64)) < 2.0 ** -14
    away = np.abs(h.astype(np.float64)) > np.abs(xx)
    assert np.mean(tie & ~sub) > 0.02 and np.mean(tie & sub) > 0.005
    assert np.mean(tie & away) > 0.01 and np.mean(tie & ~away) > 0.01
    assert np.mean(np.isfinite(xx) & np.isinf(h)) > 0.02
    assert np.mean(sub & (h != 0)) > 0.05


# --- directed, hand-derived -----------------------------------------------------------------

MUL_CASES = [
    (0x3C00, 0x3C00, 0x3F800000),   # 1 * 1 = 1
    (0xC000, 0x3800, 0xBF800000),   # -2 * 0.5 = -1
    (0x4200, 0x4200, 0x41100000),   # 3 * 3 = 9 = 1.001b * 2**3, exponent 130
    (0x0001, 0x0001, 0x27800000),   # 2**-24 squared = 2**-48, exponent 79: normal in fp32
    (0x0001, 0x7BFF, 0x3B7FE000),   # 2**-24 * 65504 = 2047 * 2**-19 = 1.1111111111b * 2**-9
    (0x03FF, 0x3C00, 0x387FC000),   # largest subnormal 1023 * 2**-24 = 1.111111111b * 2**-15
    (0x0400, 0xBE00, 0xB8C00000),   # 2**-14 * -1.5 = -1.5 * 2**-14, exponent 113
    (0x7BFF, 0x7BFF, 0x4F7FC004),   # 65504**2 = 0x3FF001 * 2**10 = 4290774016, exponent 158
    (0x8000, 0x4500, 0x80000000),   # -0 * 5 = -0
    (0x8000, 0x8000, 0x00000000),   # -0 * -0 = +0
    (0xFC00, 0x4000, 0xFF800000),   # -inf * 2 = -inf
    (0xFC00, 0x8001, 0x7F800000),   # -inf * -(tiny subnormal) = +inf
    (0x7C00, 0x0000, 0x7FC00000),   # inf * 0 = NaN
    (0x8000, 0xFC00, 0x7FC00000),   # -0 * -inf = NaN
    (0x7C01, 0x3C00, 0x7FC00000),   # signalling NaN in: canonical quiet NaN out
    (0xFE00, 0x7C00, 0x7FC00000),   # negative quiet NaN in: canonical (positive) NaN out
]

ADD_CASES = [
    (0x3F800000, 0x3F800000, 0x40000000),   # 1 + 1 = 2
    (0x3F800000, 0x33800000, 0x3F800000),   # 1 + 2**-24: tie, 1.0 is even: down
    (0x3F800001, 0x33800000, 0x3F800002),   # (1 + 2**-23) + 2**-24: tie, odd: up
    (0x3F800000, 0x33800001, 0x3F800001),   # 1 + (2**-24 + 2**-47): above the tie: up
    (0x3F800000, 0xB3000000, 0x3F800000),   # 1 - 2**-25: tie below 1 (ulp 2**-24), even: 1
    (0x3F800000, 0xB3800000, 0x3F7FFFFF),   # 1 - 2**-24: exact
    (0x3F800000, 0xB3800001, 0x3F7FFFFF),   # 1 - 2**-24 - 2**-47: under half an ulp below
    (0x3F800000, 0xB3400000, 0x3F7FFFFF),   # 1 - 0.75 * 2**-24: nearer to 1 - 2**-24
    (0x3FFFFFFF, 0x33800000, 0x40000000),   # (2 - 2**-23) + 2**-24: tie, odd: carry to 2
    (0x3F800001, 0xBF800000, 0x34000000),   # (1 + 2**-23) - 1 = 2**-23, exponent 104
    (0x3FC00000, 0xBFC00000, 0x00000000),   # x + (-x) = +0
    (0x80000000, 0x80000000, 0x80000000),   # -0 + -0 = -0
    (0x00000000, 0x80000000, 0x00000000),   # +0 + -0 = +0
    (0x7F7FFFFF, 0x73000000, 0x7F800000),   # max + 2**103 (half its ulp 2**104): tie, odd: inf
    (0x7F7FFFFF, 0x72800000, 0x7F7FFFFF),   # max + 2**102 (a quarter ulp): stays max
    (0xFF7FFFFF, 0xFF7FFFFF, 0xFF800000),   # -max + -max: -inf
    (0x00800001, 0x80800000, 0x00000000),   # 2**-149: below 2**-126, flushed to +0
    (0x80800001, 0x00800000, 0x80000000),   # -2**-149: flushed to -0
    (0x00FFFFFF, 0x80800000, 0x00000000),   # (1 - 2**-23) * 2**-126: just below, flushed
    (0x01000000, 0x80800000, 0x00800000),   # 2**-125 - 2**-126 = 2**-126: smallest normal kept
    (0x00400000, 0x00400000, 0x00000000),   # 2**-127 + 2**-127: inputs DAZ, so +0 (not 2**-126)
    (0x00800000, 0x807FFFFF, 0x00800000),   # 2**-126 + (-subnormal as -0) = 2**-126 exactly
    (0x807FFFFF, 0x80000000, 0x80000000),   # -subnormal (-0) + -0 = -0
    (0x807FFFFF, 0x00000001, 0x00000000),   # -subnormal (-0) + subnormal (+0) = +0
    (0x7F800000, 0xFF800000, 0x7FC00000),   # inf - inf = NaN
    (0x7F800000, 0x3F800000, 0x7F800000),   # inf + 1 = inf
    (0xFF800000, 0x7F7FFFFF, 0xFF800000),   # -inf + max = -inf
    (0x7F800001, 0x3F800000, 0x7FC00000),   # signalling NaN in: canonical NaN
    (0xFFFFFFFF, 0x7F800000, 0x7FC00000),   # negative NaN + inf: canonical NaN
]

TO16_CASES = [
    (0x3F800000, 0x3C00),   # 1.0
    (0x3EAAAAAB, 0x3555),   # 1/3: fraction 0101010101|0101... guard 0: down
    (0x3F801000, 0x3C00),   # 1 + 2**-11: tie, 0x3C00 even: down
    (0x3F803000, 0x3C02),   # 1 + 3 * 2**-11: tie, 0x3C01 odd: up
    (0x3F801001, 0x3C01),   # just above the tie: up
    (0x477FE000, 0x7BFF),   # 65504, the largest fp16
    (0x477FEFFF, 0x7BFF),   # just below 65520: down
    (0x477FF000, 0x7C00),   # 65520: tie between 65504 (odd) and 2**16: inf
    (0xC77FF000, 0xFC00),   # -65520: -inf
    (0x47800000, 0x7C00),   # 2**16: inf
    (0xFF7FFFFF, 0xFC00),   # -max fp32: -inf
    (0x38800000, 0x0400),   # 2**-14, the smallest fp16 normal
    (0x387FC000, 0x03FF),   # 2**-14 - 2**-24: the largest subnormal, exact
    (0x387FE000, 0x0400),   # 2**-14 - 2**-25 = 1023.5 steps: tie, odd: up to the normal
    (0x33800000, 0x0001),   # 2**-24, the smallest subnormal
    (0x33C00000, 0x0002),   # 1.5 * 2**-24: tie, 1 odd: up to 2
    (0x34200000, 0x0002),   # 2.5 * 2**-24: tie, 2 even: down
    (0x33400000, 0x0001),   # 0.75 * 2**-24: up to 1
    (0x33000000, 0x0000),   # 2**-25: tie between 0 and 1: 0
    (0xB3000000, 0x8000),   # -2**-25: -0
    (0x33000001, 0x0001),   # just above 2**-25: up to 1
    (0x00000001, 0x0000),   # fp32 subnormal: +0
    (0x80400000, 0x8000),   # negative fp32 subnormal: -0
    (0x7F800000, 0x7C00),   # inf
    (0xFF800000, 0xFC00),   # -inf
    (0x7F800001, 0x7E00),   # signalling NaN: canonical quiet NaN
    (0xFFC00000, 0x7E00),   # negative quiet NaN: canonical
]

RELU_CASES = [
    (0x3F800000, 0x3F800000), (0xBF800000, 0x00000000), (0x80000000, 0x00000000),
    (0x00000000, 0x00000000), (0xFF800000, 0x00000000), (0x7F800000, 0x7F800000),
    (0x807FFFFF, 0x00000000), (0x00000001, 0x00000001), (0xFFC00001, 0xFFC00001),
    (0x7F800001, 0x7F800001),
]


def _hex(cases):
    return [" ".join(f"{v:#x}" for v in case) for case in cases]


@pytest.mark.parametrize("a,b,expected", MUL_CASES, ids=_hex(MUL_CASES))
def test_mul_directed(a, b, expected):
    assert int(fp16_mul(a, b)) == expected
    assert int(fp16_mul(b, a)) == expected


@pytest.mark.parametrize("a,b,expected", ADD_CASES, ids=_hex(ADD_CASES))
def test_add_directed(a, b, expected):
    assert int(fp32_add(a, b)) == expected
    assert int(fp32_add(b, a)) == expected


@pytest.mark.parametrize("a,expected", TO16_CASES, ids=_hex(TO16_CASES))
def test_to16_directed(a, expected):
    assert int(fp32_to_fp16(a)) == expected


@pytest.mark.parametrize("a,expected", RELU_CASES, ids=_hex(RELU_CASES))
def test_relu_directed(a, expected):
    assert int(fp32_relu(a)) == expected


def test_scalars_and_dtypes():
    """Scalars in, 0-d arrays of the documented dtypes out."""
    assert fp16_mul(0x3C00, 0x3C00).dtype == np.uint32
    assert fp32_add(0, 0).dtype == np.uint32
    assert fp32_to_fp16(0).dtype == np.uint16
    assert fp32_relu(0).dtype == np.uint32
