"""fp16 x fp16 -> fp32 multiplier: exact, three pipeline stages, one product per cycle."""

from amaranth.hdl import Cat, Const, EnableInserter, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from wafer_engine.rtl.fp.bits import leading_zeros

__all__ = ["Fp16Mul"]


class _Operand(data.Struct):
    """An unpacked fp16 operand: value = sig * 2**(exp - 10), sig normalised to [2**10, 2**11)."""
    sign: 1
    nan: 1
    inf: 1
    zero: 1
    exp: signed(7)      # -24..15 (subnormals are normalised, so below -14)
    sig: 11             # leading one at bit 10 unless zero


class _Product(data.Struct):
    """The raw product: value = prod * 2**(exp - 20), prod in [2**20, 2**22) unless zero."""
    sign: 1
    nan: 1
    inf: 1
    zero: 1
    exp: signed(7)      # -48..30
    prod: 22


def _unpack(m, bits, name):
    """Classify an fp16 pattern and normalise a subnormal's significand (combinational)."""
    op = Signal(_Operand, name=f"unpack_{name}")
    sign, exp, man = bits[15], bits[10:15], bits[0:10]
    # A subnormal 0.man * 2**-14 with its leading one at bit 9 - lz: shift that bit to 10.
    lz = leading_zeros(man)
    m.d.comb += [
        op.sign.eq(sign),
        op.nan.eq((exp == 31) & (man != 0)),
        op.inf.eq((exp == 31) & (man == 0)),
        op.zero.eq((exp == 0) & (man == 0)),
    ]
    with m.If(exp == 0):
        m.d.comb += [op.sig.eq(man << (lz + 1)), op.exp.eq(-15 - lz)]
    with m.Else():
        m.d.comb += [op.sig.eq(Cat(man, Const(1, 1))), op.exp.eq(exp - 15)]
    return op


class Fp16Mul(wiring.Component):
    """Exact fp16 x fp16 -> fp32 product (see docs/arithmetic.md for the policy).

    Every fp16 product, subnormal operands included, is a normal fp32 number or zero, so there is
    no rounding. NaN in (quiet or signalling) or inf x 0 gives the canonical NaN ``0x7FC00000``;
    inf x nonzero gives inf; zero and inf results carry ``sign(a) xor sign(b)``.

    Pipeline (``latency`` = 3 cycles, one operation accepted per cycle, no backpressure):
    ``unpack`` (classify, normalise subnormals) -> ``multiply`` (11 x 11 bit significands, add
    exponents) -> ``normalize``/``pack`` (at most one bit of normalisation, specials).

    Attributes:
        a, b: In(16) -- fp16 operand bit patterns, sampled with ``valid``.
        valid: In(1) -- the operands are an operation to compute.
        en: In(1) -- pipeline enable (defaults to 1): while 0, every stage holds its contents.
        result: Out(32) -- fp32 product bit pattern of the operation ``latency`` enabled cycles
            earlier.
        result_valid: Out(1) -- ``result`` holds an operation (``valid`` delayed alike).
    """

    #: Cycles (enabled clock edges) from operands to result.
    latency = 3

    a: In(16)
    b: In(16)
    valid: In(1)
    en: In(1, init=1)
    result: Out(32)
    result_valid: Out(1)

    def elaborate(self, platform):
        m = Module()

        # Stage 1: unpack.
        ua, ub = Signal(_Operand), Signal(_Operand)
        valid1 = Signal()
        m.d.sync += [ua.eq(_unpack(m, self.a, "a")), ub.eq(_unpack(m, self.b, "b")),
                     valid1.eq(self.valid)]

        # Stage 2: multiply. Special classes resolve here; the product is only used when finite.
        p = Signal(_Product)
        valid2 = Signal()
        nan = ua.nan | ub.nan | (ua.inf & ub.zero) | (ua.zero & ub.inf)
        inf = (ua.inf | ub.inf) & ~nan
        m.d.sync += [
            p.sign.eq(ua.sign ^ ub.sign),
            p.nan.eq(nan),
            p.inf.eq(inf),
            p.zero.eq((ua.zero | ub.zero) & ~nan & ~inf),
            p.exp.eq(ua.exp + ub.exp),
            p.prod.eq(ua.sig * ub.sig),
            valid2.eq(valid1),
        ]

        # Stage 3: normalize (the product of two [1, 2) significands is in [1, 4)) and pack.
        top = p.prod[21]
        frac = Mux(top, Cat(Const(0, 2), p.prod[0:21]), Cat(Const(0, 3), p.prod[0:20]))
        biased = p.exp + 127 + top      # 79..158: always a normal fp32 exponent
        with m.If(p.nan):
            m.d.sync += self.result.eq(0x7FC00000)
        with m.Elif(p.inf):
            m.d.sync += self.result.eq(Cat(Const(0, 23), Const(0xFF, 8), p.sign))
        with m.Elif(p.zero):
            m.d.sync += self.result.eq(Cat(Const(0, 31), p.sign))
        with m.Else():
            m.d.sync += self.result.eq(Cat(frac, biased[0:8], p.sign))
        m.d.sync += self.result_valid.eq(valid2)

        return EnableInserter(self.en)(m)
