"""Bit-exact golden model of the PE's floating-point arithmetic (see docs/arithmetic.md).

Every function takes and returns raw IEEE bit patterns as numpy integer arrays (``uint16`` for
binary16, ``uint32`` for binary32; scalars and lists are accepted too) and is vectorised. The
arithmetic is done on integers, not with numpy floats: numpy follows full IEEE gradual
underflow, while the hardware treats fp32 subnormal inputs as zero (DAZ) and flushes fp32
subnormal results to zero (FTZ). The algorithms deliberately differ from the RTL's (exact wide
integer sums here, guard/round/sticky bits there) so that the two check each other.

Policy summary:

* :func:`fp16_mul` -- fp16 x fp16 -> fp32, exact (no rounding ever happens).
* :func:`fp32_add` -- fp32 + fp32 -> fp32, round to nearest even, DAZ inputs, FTZ results.
* :func:`fp32_to_fp16` -- round to nearest even, gradual underflow to fp16 subnormals, DAZ input.
* :func:`fp32_relu` -- ``max(x, +0)`` on bit patterns; NaN passes through unchanged.

NaN results are always the canonical quiet NaN (``0x7FC00000`` / ``0x7E00``, sign clear).
"""

import numpy as np

__all__ = ["FP32_QNAN", "FP16_QNAN", "fp16_mul", "fp32_add", "fp32_to_fp16", "fp32_relu",
           "fp16_fields", "fp32_fields"]

#: Canonical quiet NaNs produced by every unit, whatever NaN (quiet or signalling) came in.
FP32_QNAN = 0x7FC00000
FP16_QNAN = 0x7E00

_FP32_INF = 0x7F800000
_FP16_INF = 0x7C00


def fp16_fields(a):
    """Split fp16 bit patterns into ``(sign, biased exponent 0..31, mantissa 0..1023)``."""
    a = np.asarray(a, dtype=np.uint16).astype(np.int64)
    return a >> 15, (a >> 10) & 0x1F, a & 0x3FF


def fp32_fields(a):
    """Split fp32 bit patterns into ``(sign, biased exponent 0..255, mantissa 0..2**23-1)``."""
    a = np.asarray(a, dtype=np.uint32).astype(np.int64)
    return a >> 31, (a >> 23) & 0xFF, a & 0x7FFFFF


def _bit_length(x):
    """``int.bit_length`` of each element of a non-negative int64 array (0 for 0)."""
    x = x.copy()
    n = np.zeros(x.shape, dtype=np.int64)
    for step in (32, 16, 8, 4, 2, 1):
        big = x >= (1 << step)
        n += np.where(big, step, 0)
        x = np.where(big, x >> step, x)
    return n + (x > 0)


def _round_shift_rne(x, shift):
    """``x / 2**shift`` rounded to nearest, ties to even; ``x >= 0`` int64, ``0 <= shift <= 62``."""
    q = x >> shift
    rem = x - (q << shift)
    half = np.where(shift > 0, np.left_shift(1, np.maximum(shift - 1, 0)), 0)
    up = (shift > 0) & ((rem > half) | ((rem == half) & (q & 1 == 1)))
    return q + up


def fp16_mul(a, b):
    """Exact product of fp16 ``a`` and ``b`` as fp32 bits (``uint32`` array).

    Every product of two finite fp16 numbers, subnormals included, lies in
    ``[2**-48, 2**32)`` with at most 22 significant bits, so it is a normal fp32 number (or zero)
    and no rounding happens. NaN in, or inf x 0, gives ``0x7FC00000``; inf x (nonzero or inf)
    gives inf; every other zero or inf result carries ``sign(a) xor sign(b)``.
    """
    sa, ea, ma = fp16_fields(a)
    sb, eb, mb = fp16_fields(b)
    sign = sa ^ sb
    nan = ((ea == 31) & (ma != 0)) | ((eb == 31) & (mb != 0))
    inf_a, inf_b = (ea == 31) & (ma == 0), (eb == 31) & (mb == 0)
    zero_a, zero_b = (ea == 0) & (ma == 0), (eb == 0) & (mb == 0)
    nan |= (inf_a & zero_b) | (inf_b & zero_a)
    inf = (inf_a | inf_b) & ~nan
    zero = (zero_a | zero_b) & ~nan & ~inf

    # Value of a finite fp16 = sig * 2**(exp - 25): sig includes the hidden bit when normal,
    # and subnormals use exponent 1 (value = mantissa * 2**-24).
    sig_a = np.where(ea == 0, ma, ma | 0x400)
    sig_b = np.where(eb == 0, mb, mb | 0x400)
    exp = np.maximum(ea, 1) + np.maximum(eb, 1) - 50
    prod = sig_a * sig_b
    # prod * 2**exp = 1.f * 2**(exp + n - 1) with n its bit length; put the leading one at bit 23.
    n = _bit_length(prod)
    e32 = exp + n - 1 + 127
    frac = np.left_shift(prod, np.maximum(24 - n, 0)) & 0x7FFFFF
    finite = (sign << 31) | (e32 << 23) | frac
    out = np.where(zero, sign << 31, finite)
    out = np.where(inf, (sign << 31) | _FP32_INF, out)
    out = np.where(nan, FP32_QNAN, out)
    return out.astype(np.uint32)


#: Fraction bits kept below the larger operand's significand in :func:`fp32_add` (exact sum).
_ADD_EXTRA = 38


def fp32_add(a, b):
    """``a + b`` on fp32 bits, round to nearest even, DAZ/FTZ (``uint32`` array).

    Inputs with a zero exponent field (zeros and subnormals) count as zeros of their sign. The
    sum is formed exactly on integers scaled to the larger operand (an addend more than 38
    binades smaller is replaced by a 1-unit stand-in of its sign: anything that small lies far
    inside one rounding interval, so the rounding is unchanged), then rounded once to 24
    significant bits. A rounded result below ``2**-126`` is flushed to a zero of the exact
    sum's sign (with normal inputs, such a sum is always exact, so flushing before or after
    rounding cannot differ); a rounded exponent above 254 gives inf. Exact zero sums are
    ``+0`` except ``(-0) + (-0) = -0``. NaN in, or ``inf + -inf``, gives ``0x7FC00000``.
    """
    sa, ea, ma = fp32_fields(a)
    sb, eb, mb = fp32_fields(b)
    nan = ((ea == 255) & (ma != 0)) | ((eb == 255) & (mb != 0))
    inf_a, inf_b = (ea == 255) & (ma == 0), (eb == 255) & (mb == 0)
    nan |= inf_a & inf_b & (sa != sb)
    inf = (inf_a | inf_b) & ~nan
    inf_sign = np.where(inf_a, sa, sb)

    # DAZ: a zero exponent field means zero; otherwise value = sig * 2**(e - 150).
    sig_a = np.where(ea == 0, 0, ma | 0x800000)
    sig_b = np.where(eb == 0, 0, mb | 0x800000)
    e_hi = np.maximum(ea, eb)
    e_lo_is_a = ea < eb
    sig_hi = np.where(e_lo_is_a, sig_b, sig_a)
    sig_lo = np.where(e_lo_is_a, sig_a, sig_b)
    s_hi = np.where(e_lo_is_a, sb, sa)
    s_lo = np.where(e_lo_is_a, sa, sb)
    d = e_hi - np.minimum(ea, eb)
    big = sig_hi << _ADD_EXTRA
    small = np.where(d <= _ADD_EXTRA, (sig_lo << _ADD_EXTRA) >> np.minimum(d, _ADD_EXTRA),
                     np.where(sig_lo != 0, 1, 0))
    total = np.where(s_hi == 1, -big, big) + np.where(s_lo == 1, -small, small)
    sign = (total < 0).astype(np.int64)
    mag = np.abs(total)

    # Round |total| to 24 significant bits; the value is mag * 2**(e_hi - 150 - _ADD_EXTRA).
    n = _bit_length(mag)
    shift = np.maximum(n - 24, 0)
    q = _round_shift_rne(mag, shift)
    carry = q >> 24
    q >>= carry
    # Biased exponent: q has its leading one at bit 23 (when nonzero).
    e_res = e_hi - _ADD_EXTRA + shift + carry
    # A sum with fewer than 24 significant bits (n < 24) was not shifted; renormalise it.
    under = np.maximum(24 - n, 0)
    e_res = e_res - under
    q = np.left_shift(q, under)
    finite = (sign << 31) | (e_res << 23) | (q & 0x7FFFFF)
    finite = np.where(e_res >= 255, (sign << 31) | _FP32_INF, finite)
    finite = np.where(e_res <= 0, sign << 31, finite)          # FTZ
    finite = np.where(mag == 0, (sa & sb) << 31, finite)      # exact zero: +0 unless -0 + -0
    out = np.where(inf, (inf_sign << 31) | _FP32_INF, finite)
    out = np.where(nan, FP32_QNAN, out)
    return out.astype(np.uint32)


def fp32_to_fp16(a):
    """fp32 bits to fp16 bits, round to nearest even (``uint16`` array).

    Results below the fp16 normal range round correctly to fp16 subnormals (gradual underflow);
    ``|x| >= 65520`` rounds to inf; NaN gives ``0x7E00``; fp32 subnormal inputs count as zeros of
    their sign (their magnitude, below ``2**-126``, would round to zero anyway).
    """
    s, e, m = fp32_fields(a)
    nan = (e == 255) & (m != 0)
    inf = (e == 255) & (m == 0)
    zero = e == 0
    sig = m | 0x800000
    # Unbiased exponent of the leading bit, and the exponent of one fp16 unit in the last place:
    # 2**(exp - 10) for normals, 2**-24 (the subnormal step) below the normal range.
    exp = e - 127
    ulp_exp = np.maximum(exp, -14) - 10
    # sig * 2**(exp - 23) / 2**ulp_exp: drop (ulp_exp - exp + 23) bits, at most 62 (all sticky).
    shift = np.minimum(ulp_exp - exp + 23, 62)
    q = _round_shift_rne(sig, shift)
    # q counts fp16 ulps; it may have grown to 2**11 by rounding (one binade up, still exact).
    carry = q >> 11
    q >>= carry
    ulp_exp = ulp_exp + carry
    normal = q >= 0x400
    field = np.where(normal, ulp_exp + 10 + 15, 0)
    finite = (field << 10) | (q & 0x3FF)
    finite = np.where(field >= 31, _FP16_INF, finite)
    out = np.where(zero, 0, finite)
    out = np.where(inf, _FP16_INF, out) | (s << 15)
    out = np.where(nan, FP16_QNAN, out)
    return out.astype(np.uint16)


def fp32_relu(a):
    """``max(a, +0)`` on fp32 bits (``uint32`` array): any pattern with the sign bit set
    (negative numbers, -0, -inf) becomes ``+0``, except NaNs, which pass through unchanged."""
    a = np.asarray(a, dtype=np.uint32)
    _, e, m = fp32_fields(a)
    nan = (e == 255) & (m != 0)
    return np.where((a >> 31 == 1) & ~nan, 0, a).astype(np.uint32)
