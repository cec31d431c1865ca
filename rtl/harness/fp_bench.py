"""Test top holding every fp unit side by side, with packed operand and result buses.

The buses are single wide ports so that a testbench touches a handful of signals per cycle
(simulator access, not logic, dominates the cost of a cocotb run).
"""

from amaranth.hdl import Module
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from wafer_engine.rtl.fp.add32 import Fp32Add
from wafer_engine.rtl.fp.mul16 import Fp16Mul
from wafer_engine.rtl.fp.relu import Fp32Relu
from wafer_engine.rtl.fp.to16 import Fp32ToFp16

__all__ = ["FpBench", "Operands", "Results", "Valids", "UNITS"]

#: Unit names in bus order, with their classes.
UNITS = {"mul": Fp16Mul, "add": Fp32Add, "to16": Fp32ToFp16, "relu": Fp32Relu}


class Operands(data.Struct):
    """One operation for every unit; ``cvt_a`` feeds both the converter and the ReLU."""
    mul_a: 16
    mul_b: 16
    add_a: 32
    add_b: 32
    cvt_a: 32


class Results(data.Struct):
    """Each unit's result bit pattern (fp32, fp32, fp16, fp32)."""
    mul: 32
    add: 32
    to16: 16
    relu: 32


class Valids(data.Struct):
    """Each unit's result-valid flag."""
    mul: 1
    add: 1
    to16: 1
    relu: 1


class FpBench(wiring.Component):
    """:class:`Fp16Mul`, :class:`Fp32Add`, :class:`Fp32ToFp16` and :class:`Fp32Relu` sharing
    ``valid`` and ``en``; each unit's result and result-valid appear in ``results``/``valids``.

    Attributes:
        operands: In(Operands), valid: In(1), en: In(1) -- shared by all units.
        results: Out(Results), valids: Out(Valids) -- per unit, each at its own latency.
        latency: ``{unit name: cycles}``.
    """

    operands: In(Operands)
    valid: In(1)
    en: In(1, init=1)
    results: Out(Results)
    valids: Out(Valids)

    latency = {name: cls.latency for name, cls in UNITS.items()}

    def elaborate(self, platform):
        m = Module()
        ops = self.operands
        inputs = {"mul": {"a": ops.mul_a, "b": ops.mul_b},
                  "add": {"a": ops.add_a, "b": ops.add_b},
                  "to16": {"a": ops.cvt_a},
                  "relu": {"a": ops.cvt_a}}
        for name, cls in UNITS.items():
            unit = m.submodules[name] = cls()
            m.d.comb += [getattr(unit, port).eq(value) for port, value in inputs[name].items()]
            m.d.comb += [
                unit.valid.eq(self.valid),
                unit.en.eq(self.en),
                getattr(self.results, name).eq(unit.result),
                getattr(self.valids, name).eq(unit.result_valid),
            ]
        return m
