"""The iCE40 pin wrapper: its shift register and output fold in amaranth.sim around a small
Amaranth module, against the references; port lists from signatures; the Verilog it writes
around a module named by string; bad parameters."""

import gc
import random
import re

import pytest
from amaranth.back import verilog
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from wafer_engine.rtl.params import ArrayParams
from wafer_engine.rtl.board.pin_wrapper import (PinWrapper, component_ports, ref_fold,
                                                ref_shift)
from wafer_engine.rtl.counter_read import CounterSelect
from wafer_engine.rtl.uart import UartTx
from wafer_engine.sw.flows.array_verilog import array_ports, array_top_verilog


class _Inner(wiring.Component):
    """``y`` = register of ``a[0:2] ^ a[2:4]``, ``z`` = ``b``: one registered and one
    combinational output."""
    a: In(4)
    b: In(1)
    y: Out(2)
    z: Out(1)

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.y.eq(self.a[0:2] ^ self.a[2:4])
        m.d.comb += self.z.eq(self.b)
        return m


INNER_PORTS = [("input", "a", 4), ("input", "b", 1), ("output", "y", 2), ("output", "z", 1)]


def _verilog_ports(component):
    header = re.search(r"^module top\((.*?)\);", verilog.convert(component, name="top",
                                                                  emit_src=False), re.M | re.S)
    return sorted(p.strip() for p in header.group(1).split(","))


def test_component_ports_come_from_the_signature():
    inner, uart, select = _Inner(), UartTx(4), CounterSelect()
    assert component_ports(inner) == INNER_PORTS
    assert component_ports(uart) == [("input", "i__payload", 8), ("input", "i__valid", 1),
                                     ("output", "i__ready", 1), ("output", "tx", 1)]
    names = [n for _, n, _ in component_ports(select)]
    assert names[0] == "counters__busy_cycles" and names[-2:] == ["counter_id", "value"]
    # The names are the Verilog backend's (clk and rst only where a clock domain is used).
    assert _verilog_ports(inner) == sorted(["clk", "rst"] + [n for _, n, _ in INNER_PORTS])
    assert _verilog_ports(uart) == sorted(["clk", "rst", "i__payload", "i__valid",
                                           "i__ready", "tx"])
    assert _verilog_ports(select) == sorted(names)


def test_reference_shift_and_fold():
    assert ref_shift(0b1011, 1, 4) == 0b0111 and ref_shift(0b1011, 0, 4) == 0b0110
    assert ref_shift(1, 1, 0) == 1                  # no inputs: a one-bit register
    assert ref_fold([(0b11, 2), (1, 1)]) == 1 and ref_fold([(0b111, 2)]) == 0   # 2 bits
    assert ref_fold([]) == 0


def test_shift_register_feeds_inputs_and_sout_folds_outputs():
    rng = random.Random(3)
    bits = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0] + [rng.getrandbits(1) for _ in range(300)]
    dut = PinWrapper(_Inner(), INNER_PORTS)
    assert dut.in_bits == 5
    seen = []

    async def bench(ctx):
        shift = y = sout = 0
        for sin in bits:
            assert ctx.get(dut.sout) == sout
            ctx.set(dut.sin, sin)
            a, b = shift & 0xF, shift >> 4 & 1
            # One clock edge: the shift register, the inner register and the fold register.
            shift, y, sout = (ref_shift(shift, sin, 5), (a & 3) ^ (a >> 2),
                              ref_fold([(y, 2), (b, 1)]))
            await ctx.tick()
            seen.append(sout)
        assert ctx.get(dut.sout) == sout

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert len(seen) == len(bits) and 0 < sum(seen) < len(seen)


def test_verilog_instantiates_the_named_module():
    text = verilog.convert(PinWrapper("m", [("input", "clk", 1), ("input", "rst", 1)]
                                      + INNER_PORTS), name="wafer_pins", emit_src=False)
    header = re.search(r"^module wafer_pins\((.*?)\);", text, re.M | re.S).group(1)
    assert sorted(p.strip() for p in header.split(",")) == ["clk", "rst", "sin", "sout"]
    inst = re.search(r"^\s*m inner \((.*?)\);", text, re.M | re.S).group(1)
    assert sorted(re.findall(r"\.(\w+)\(", inst)) == ["a", "b", "clk", "rst", "y", "z"]
    assert ".a(shift[3:0])" in text and ".b(shift[4])" in text


def test_wrapper_of_the_array_covers_its_ports():
    ports = array_ports(ArrayParams.build(rows=1, cols=2, colors=3))
    header = re.search(r"^module wafer_array\((.*?)\);",
                       array_top_verilog(ArrayParams.build(rows=1, cols=2, colors=3)), re.M)
    assert [n for _, n, _ in ports] == header.group(1).split(", ")
    ins = sum(w for d, n, w in ports if d == "input" and n not in ("clk", "rst"))
    wrapper = PinWrapper("wafer_array", ports)
    assert wrapper.in_bits == ins
    text = verilog.convert(wrapper, name="wafer_pins", emit_src=False)
    inst = re.search(r"^\s*wafer_array inner \((.*?)\);", text, re.M | re.S).group(1)
    assert sorted(re.findall(r"\.(\w+)\(", inst)) == sorted(n for _, n, _ in ports)


@pytest.mark.parametrize("inner,ports,message", [
    ("m", [("inout", "a", 1)], "Port direction must be 'input' or 'output', not 'inout'"),
    ("m", [("input", "a", 0)], "Width of port 'a' must be a positive integer, not 0"),
    ("m", [("input", "a", True)], "Width of port 'a' must be a positive integer, not True"),
    ("m", [("input", "a b", 1)], "Port name must be an identifier, not 'a b'"),
    ("m", [("input", "a", 1), ("output", "a", 2)], "Port 'a' is listed twice"),
    ("m", [("input", "a")], "Port must be a (direction, name, width) tuple, not ('input', 'a')"),
    ("1m", [], "Module name must be an identifier, not '1m'"),
    (None, [], "Wrapped design must be a module name or a Component, not None"),
])
def test_bad_parameters(inner, ports, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        PinWrapper(inner, ports)


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_port_missing_from_the_component():
    inner = _Inner()
    with pytest.raises(ValueError, match=rf"^Port 'c' is not a member of "
                                         rf"{re.escape(repr(inner))}$"):
        PinWrapper(inner, INNER_PORTS + [("input", "c", 1)])
    del inner           # never elaborated: let Amaranth's unused warning fire here, ignored
    gc.collect()
