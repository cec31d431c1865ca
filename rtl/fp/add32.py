"""fp32 + fp32 -> fp32 adder: round to nearest even, DAZ/FTZ, four pipeline stages."""

from amaranth.hdl import Cat, Const, EnableInserter, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from wafer_engine.rtl.fp.bits import leading_zeros, trailing_zeros

__all__ = ["Fp32Add"]

#: Bits kept below the larger significand while aligning: guard, round and sticky. Three are
#: enough for a correctly rounded sum (the classic result): when the smaller operand is shifted
#: by 2 or more the sum needs at most a one-bit normalisation, and when it is shifted by 0 or 1
#: nothing is lost.
_GRS = 3
_WIDE = 24 + _GRS       # aligned significand width: hidden bit, 23 fraction bits, G, R, S


class _Special(data.Struct):
    """Results that bypass the datapath, decided at unpack and carried along."""
    nan: 1              # NaN operand or inf + -inf: canonical NaN
    inf: 1              # exactly one infinite operand, or two of the same sign
    inf_sign: 1
    zero_sign: 1        # sign of an exactly zero sum: -0 only for (-0) + (-0)


class _Unpacked(data.Struct):
    """Operands ordered by magnitude, abs(x) >= abs(y): x = sig_x * 2**(exp - 150) and
    y = sig_y * 2**(exp - shift - 150)."""
    special: _Special
    sign: 1             # sign of x, hence of any nonzero sum
    sub: 1              # effective subtraction (operand signs differ)
    exp: 8              # biased exponent of x
    shift: 5            # min(exp(x) - exp(y), _WIDE): beyond that only sticky is left
    sig_x: 24           # 0 for a zero (or DAZ-flushed subnormal) operand
    sig_y: 24
    tz_y: 5             # trailing zeros of sig_y (24 if zero)


class _Sum(data.Struct):
    """The sum in units of 2**(exp - 150 - _GRS): leading one at bit 27 (carry) or below."""
    special: _Special
    sign: 1
    exp: 8
    total: _WIDE + 1


class _Normalized(data.Struct):
    """The sum shifted so its leading one is at bit 27; value = norm * 2**(exp - 154)."""
    special: _Special
    sign: 1
    zero: 1             # the sum is exactly zero
    exp: signed(10)     # biased exponent before rounding, -26..255
    norm: _WIDE + 1


def _capped_shift(diff):
    """min(diff, _WIDE) for an 8-bit exponent difference ``diff`` (only used when it is not
    negative), as 5 bits. The cap is tested on the difference's bits (no second carry chain
    after the subtraction's): _WIDE + 1 = 28 has its two low bits clear, so diff > _WIDE
    exactly when a bit above 4 is set or bits 2..4 are all set."""
    assert (_WIDE + 1) % 4 == 0 and _WIDE < 32
    big = diff[5:].any() | (diff[2:5] >= (_WIDE + 1) >> 2)
    return Mux(big, _WIDE, diff[:5])


def _fields(bits):
    return bits[31], bits[23:31], bits[0:23]


class Fp32Add(wiring.Component):
    """fp32 + fp32 -> fp32, round to nearest even (see docs/arithmetic.md for the policy).

    Subnormal inputs count as zeros of their sign (DAZ); a result below ``2**-126`` is flushed to
    a zero of its sign (FTZ), decided after rounding (with DAZ inputs, such results are exact, so
    before/after cannot differ). A rounded exponent above 254 gives inf. NaN in, or inf + -inf,
    gives ``0x7FC00000``; an exactly zero sum is ``+0`` except ``(-0) + (-0) = -0``.

    Pipeline (``latency`` = 4 cycles, one operation accepted per cycle, no backpressure):
    ``unpack`` (classify, DAZ, order by magnitude) -> ``align``/``add`` (shift the smaller
    significand right with guard/round/sticky bits, add or subtract) -> ``normalize`` (leading
    zero count, shift left) -> ``round``/``pack`` (nearest even, overflow, FTZ, specials).

    Attributes:
        a, b: In(32) -- fp32 operand bit patterns, sampled with ``valid``.
        valid: In(1) -- the operands are an operation to compute.
        en: In(1) -- pipeline enable (defaults to 1): while 0, every stage holds its contents.
        result: Out(32) -- fp32 sum bit pattern of the operation ``latency`` enabled cycles
            earlier.
        result_valid: Out(1) -- ``result`` holds an operation (``valid`` delayed alike).
    """

    #: Cycles (enabled clock edges) from operands to result.
    latency = 4

    a: In(32)
    b: In(32)
    valid: In(1)
    en: In(1, init=1)
    result: Out(32)
    result_valid: Out(1)

    def elaborate(self, platform):
        m = Module()
        valid = [Signal(name=f"valid{i}") for i in range(1, self.latency)]
        m.d.sync += [valid[0].eq(self.valid)] + [valid[i].eq(valid[i - 1])
                                                 for i in range(1, len(valid))]
        m.d.sync += self.result_valid.eq(valid[-1])

        u = self._unpack(m)
        s = self._align_add(m, u)
        n = self._normalize(m, s)
        self._round_pack(m, n)
        return EnableInserter(self.en)(m)

    def _unpack(self, m):
        """Stage 1: classify, apply DAZ, and order the operands so that |x| >= |y|."""
        u = Signal(_Unpacked)
        sa, ea, ma = _fields(self.a)
        sb, eb, mb = _fields(self.b)
        nan_a, nan_b = (ea == 0xFF) & (ma != 0), (eb == 0xFF) & (mb != 0)
        inf_a, inf_b = (ea == 0xFF) & (ma == 0), (eb == 0xFF) & (mb == 0)
        # DAZ: a zero exponent field means zero, whatever the fraction; the hidden bit is then 0.
        sig_a = Cat(Mux(ea == 0, 0, ma), ea != 0)
        sig_b = Cat(Mux(eb == 0, 0, mb), eb != 0)
        # Magnitudes compare as integers once the flushed fractions are cleared.
        swap = Cat(sig_b[0:23], eb) > Cat(sig_a[0:23], ea)
        # Both orders are prepared beside the compare, which then only selects: the shift
        # capped at _WIDE, and the trailing zeros of y, from which the next stage finds the
        # sticky bit beside (not after) its shifter.
        shift_ab = _capped_shift((ea - eb)[:8])       # x = a
        shift_ba = _capped_shift((eb - ea)[:8])       # x = b
        m.d.sync += [
            u.special.nan.eq(nan_a | nan_b | (inf_a & inf_b & (sa != sb))),
            u.special.inf.eq(inf_a | inf_b),
            u.special.inf_sign.eq(Mux(inf_a, sa, sb)),
            u.special.zero_sign.eq(sa & sb),
            u.sign.eq(Mux(swap, sb, sa)),
            u.sub.eq(sa ^ sb),
            u.exp.eq(Mux(swap, eb, ea)),
            u.shift.eq(Mux(swap, shift_ba, shift_ab)),
            u.sig_x.eq(Mux(swap, sig_b, sig_a)),
            u.sig_y.eq(Mux(swap, sig_a, sig_b)),
            u.tz_y.eq(Mux(swap, trailing_zeros(sig_a), trailing_zeros(sig_b))),
        ]
        return u

    def _align_add(self, m, u):
        """Stage 2: align y to x keeping guard/round/sticky bits, then add or subtract."""
        s = Signal(_Sum)
        wide = Cat(Const(0, _WIDE + _GRS), u.sig_y) >> u.shift
        # Sticky: the OR of y's bits 0 .. shift - _GRS (they land below the round bit), set
        # when y is not zero and its trailing zeros are at most shift - _GRS. Worked out beside
        # the shifter rather than as an OR of its outputs.
        sticky = u.sig_y.any() & (u.tz_y + _GRS <= u.shift)
        aligned_y = Cat(sticky, wide[_WIDE + 1:2 * _WIDE])
        aligned_x = Cat(Const(0, _GRS), u.sig_x)
        # |x| >= |y|, so the difference is never negative. x - y = x + ~y + 1 on one carry
        # chain with the sum: the + 1 enters through a low bit of both operands (sub + sub
        # carries sub into bit 1).
        flip = u.sub.replicate(_WIDE + 1)
        total = (Cat(u.sub, aligned_x, Const(0, 1))
                 + Cat(u.sub, Cat(aligned_y, Const(0, 1)) ^ flip))[1:_WIDE + 2]
        m.d.sync += [
            s.special.eq(u.special),
            s.sign.eq(u.sign),
            s.exp.eq(u.exp),
            s.total.eq(total),
        ]
        return s

    def _normalize(self, m, s):
        """Stage 3: shift the sum left until its leading one is at the top bit."""
        n = Signal(_Normalized)
        lz = leading_zeros(s.total)
        m.d.sync += [
            n.special.eq(s.special),
            n.sign.eq(s.sign),
            n.zero.eq(s.total == 0),
            # Bit 27 set (a carry) is one binade above x's; every leading zero one below.
            n.exp.eq(s.exp + 1 - lz),
            n.norm.eq(s.total << lz),
        ]
        return n

    def _round_pack(self, m, n):
        """Stage 4: round to 24 significant bits (nearest even), then overflow, FTZ, specials."""
        kept = n.norm[_GRS + 1:]
        guard = n.norm[_GRS]
        sticky = n.norm[0:_GRS].any()
        rounded = kept + (guard & (sticky | kept[0]))
        # A carry out of rounding leaves rounded = 2**24: fraction 0, one binade up.
        carry = rounded[24]
        exp = n.exp + carry
        # The rounded exponent's range is tested on the unrounded one and the carry (compares
        # with constants beside the rounding carry chain, not after it).
        overflow = (n.exp >= 0xFF) | ((n.exp == 0xFE) & carry)         # exp >= 0xFF: inf
        underflow = (n.exp < 0) | ((n.exp == 0) & ~carry)              # exp <= 0: FTZ
        # In priority order: NaN, an infinite operand, an exactly zero sum, overflow, FTZ.
        nan = n.special.nan
        inf = ~nan & (n.special.inf | (~n.zero & overflow))
        normal = ~nan & ~n.special.inf & ~n.zero & ~overflow & ~underflow
        sign = Mux(n.special.inf, n.special.inf_sign, Mux(n.zero, n.special.zero_sign, n.sign))
        m.d.sync += self.result.eq(Cat(
            rounded[0:22] & normal.replicate(22),
            (rounded[22] & normal) | nan,
            Mux(nan | inf, 0xFF, exp[0:8] & normal.replicate(8)),
            sign & ~nan))
