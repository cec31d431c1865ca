"""fp32 ReLU: ``max(x, +0)`` on bit patterns, one pipeline stage."""

from amaranth.hdl import EnableInserter, Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Fp32Relu", "relu32"]


def relu32(bits):
    """Combinational ReLU of an fp32 pattern: sign set and not NaN -> ``+0``, else unchanged.

    -0 and -inf become +0; NaNs (either sign) pass through untouched, so a NaN is never hidden.
    """
    nan = (bits[23:31] == 0xFF) & (bits[0:23] != 0)
    return Mux(bits[31] & ~nan, 0, bits)


class Fp32Relu(wiring.Component):
    """:func:`relu32` as a pipeline unit with the same ports as the other fp units.

    ``latency`` = 1 cycle. Attributes: ``a`` In(32), ``valid`` In(1), ``en`` In(1) (defaults
    to 1; 0 holds the stage), ``result`` Out(32), ``result_valid`` Out(1).
    """

    #: Cycles (enabled clock edges) from operand to result.
    latency = 1

    a: In(32)
    valid: In(1)
    en: In(1, init=1)
    result: Out(32)
    result_valid: Out(1)

    def elaborate(self, platform):
        m = Module()
        m.d.sync += [self.result.eq(relu32(self.a)), self.result_valid.eq(self.valid)]
        return EnableInserter(self.en)(m)
