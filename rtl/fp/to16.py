"""fp32 -> fp16 converter: round to nearest even with gradual underflow, two pipeline stages."""

from amaranth.hdl import Cat, Const, EnableInserter, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Fp32ToFp16"]

#: fp32 biased exponent of 2**-14, the smallest fp16 normal; below it fp16 steps are 2**-24.
_E_MIN_NORMAL = 113
#: fp32 biased exponent of 2**16: from there on every value rounds to inf.
_E_OVERFLOW = 143
#: fp32 fraction bits dropped for an fp16 normal (23 - 10).
_DROP_NORMAL = 13
#: Largest drop needed: values below 2**-25 (half the smallest subnormal step) round to zero;
#: with 25 bits dropped the guard bit is above the significand (always 0), so any larger drop
#: would give the same zero.
_DROP_MAX = 25
#: Significand bits always below the guard bit (the smallest drop, 13, less one): they only
#: matter as one sticky bit, ORed in the first stage.
_LOW = _DROP_NORMAL - 1


class _Unpacked(data.Struct):
    """A classified fp32 value with its rounding position resolved."""
    sign: 1
    nan: 1
    inf: 1              # inf, or a finite value >= 2**16 (rounds to inf)
    zero: 1             # zero or fp32 subnormal (DAZ)
    high: 24 - _LOW     # significand bits _LOW..23 (hidden bit at the top)
    low: 1              # OR of significand bits 0.._LOW-1 (always below the guard bit)
    extra: range(_DROP_MAX - _DROP_NORMAL + 1)  # bits dropped below one fp16 ulp, less 13
    base: 5             # fp16 exponent field minus 1 for normals, 0 in the subnormal range


class Fp32ToFp16(wiring.Component):
    """fp32 -> fp16, round to nearest even (see docs/arithmetic.md for the policy).

    Values below the fp16 normal range round correctly to fp16 subnormals (gradual underflow);
    ``|x| >= 65520`` rounds to inf (65520 is the tie between 65504 and 2**16); NaN gives
    ``0x7E00``; fp32 subnormal inputs count as zeros of their sign (DAZ).

    Pipeline (``latency`` = 2 cycles, one operation accepted per cycle, no backpressure):
    ``unpack`` (classify, find the rounding position) -> ``round``/``pack`` (shift with
    guard/sticky, nearest even, specials). The rounding increment is added to the packed
    exponent and fraction together, so a carry out of the fraction moves to the next binade (or
    from the largest subnormal to the smallest normal, or from 65504 to inf) by itself.

    Attributes:
        a: In(32) -- fp32 operand bit pattern, sampled with ``valid``.
        valid: In(1) -- the operand is an operation to compute.
        en: In(1) -- pipeline enable (defaults to 1): while 0, every stage holds its contents.
        result: Out(16) -- fp16 bit pattern of the operation ``latency`` enabled cycles earlier.
        result_valid: Out(1) -- ``result`` holds an operation (``valid`` delayed alike).
    """

    #: Cycles (enabled clock edges) from operand to result.
    latency = 2

    a: In(32)
    valid: In(1)
    en: In(1, init=1)
    result: Out(16)
    result_valid: Out(1)

    def elaborate(self, platform):
        m = Module()

        # Stage 1: unpack.
        u = Signal(_Unpacked)
        valid1 = Signal()
        sign, exp, man = self.a[31], self.a[23:31], self.a[0:23]
        with m.If(exp >= _E_MIN_NORMAL):
            m.d.sync += [u.extra.eq(0), u.base.eq(exp - _E_MIN_NORMAL)]
        with m.Else():
            # One more dropped bit per binade below 2**-14, up to _DROP_MAX.
            m.d.sync += [u.extra.eq(Mux(exp < _E_MIN_NORMAL + _DROP_NORMAL - _DROP_MAX,
                                        _DROP_MAX - _DROP_NORMAL, _E_MIN_NORMAL - exp)),
                         u.base.eq(0)]
        m.d.sync += [
            u.sign.eq(sign),
            u.nan.eq((exp == 0xFF) & (man != 0)),
            u.inf.eq((exp >= _E_OVERFLOW) & ~((exp == 0xFF) & (man != 0))),
            u.zero.eq(exp == 0),
            u.high.eq(Cat(man[_LOW:], Const(1, 1))),
            u.low.eq(man[:_LOW].any()),
            valid1.eq(self.valid),
        ]

        # Stage 2: round and pack. With drop = 13 + extra, the guard bit is significand bit
        # 12 + extra and the kept bits (at most 11) are above it: high >> extra holds the
        # guard bit at 0 and the kept bits from 1 up.
        wide = u.high >> u.extra
        kept = wide[1:12]
        guard = wide[0]
        # Sticky: the OR of the significand bits below the guard bit, masked beside the
        # shifter rather than taken from its outputs.
        sticky = u.low | Cat(u.high[k] & (u.extra > k) for k in range(len(u.high))).any()
        inc = guard & (sticky | kept[0])
        # For normals kept has its hidden bit at 10, which adds the 1 that base leaves out:
        # (base << 10) + kept + inc as one carry chain, inc entering through a low bit of
        # both operands (inc + inc carries inc into bit 1).
        magnitude = (Cat(inc, kept[0:10], u.base) + Cat(inc, Const(0, 10), kept[10]))[1:]
        with m.If(u.nan):
            m.d.sync += self.result.eq(0x7E00)
        with m.Elif(u.inf):
            m.d.sync += self.result.eq(Cat(Const(0x7C00, 15), u.sign))
        with m.Elif(u.zero):
            m.d.sync += self.result.eq(Cat(Const(0, 15), u.sign))
        with m.Else():
            m.d.sync += self.result.eq(Cat(magnitude[0:15], u.sign))
        m.d.sync += self.result_valid.eq(valid1)

        return EnableInserter(self.en)(m)
