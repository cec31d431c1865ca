"""Router testbench: clock, reset, route configuration, and lockstep traffic against the model."""

from typing import NamedTuple

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from wafer_engine.fabric.model.router_model import RouterModel
from wafer_engine.fabric.model.traffic import LinkSender
from wafer_engine.fabric.model.wavelet import Wavelet
from wafer_engine.rtl.ports import PORTS

from wafer_engine.sw.sim.link import LinkPort

__all__ = ["RouterTB", "RunResult"]


class RunResult(NamedTuple):
    """What one :meth:`RouterTB.run` observed on the RTL; cycles count from the run's start."""
    cycles: int
    emitted: list   #: per output port, ``[(cycle, Wavelet)]`` transfers out of the router
    accepted: list  #: per input port, ``[(cycle, Wavelet)]`` transfers into the router


class RouterTB:
    """Owns the DUT's clock and reset, the route table, and a :class:`RouterModel` in lockstep.

    Every cycle of :meth:`run` drives the same stimulus into the RTL and the model and asserts
    that ready masks and emitted wavelets agree exactly, so a divergence fails at its first cycle.
    """

    def __init__(self, dut, colors, depth):
        self.dut, self.colors, self.depth = dut, colors, depth
        self.inputs = [LinkPort(dut, "i", p) for p in PORTS]
        self.outputs = [LinkPort(dut, "o", q) for q in PORTS]
        self.model = RouterModel(colors=colors, depth=depth)
        # Senders persist across runs, so a run stopped early can be resumed by the next one.
        self.senders = [LinkSender(colors) for _ in PORTS]
        self.cycle = 0

    async def reset(self):
        cocotb.start_soon(Clock(self.dut.clk, 10, unit="ns").start())
        self.dut.rst.value = 1
        self.dut.cfg__valid.value = 0
        for port in self.inputs:
            port.valid.value = 0
            port.wavelet.value = 0
        for port in self.outputs:
            port.ready.value = 0
        for _ in range(2):
            await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    async def configure(self, routes):
        """Write ``{color: Route}`` through the cfg port, one row per cycle (model too)."""
        for color, route in routes.items():
            route = route.validated(color)
            await FallingEdge(self.dut.clk)
            self.dut.cfg__valid.value = 1
            self.dut.cfg__color.value = color
            self.dut.cfg__route.value = route.as_entry().as_bits()
            self.model.configure(color, route)
        await FallingEdge(self.dut.clk)
        self.dut.cfg__valid.value = 0

    async def run(self, streams, backpressure, until=None, max_cycles=2_000_000):
        """Queue ``streams`` (``{port: [Wavelet]}``) and clock until both RTL and model drain,
        or until ``until(emitted)`` is true after a cycle.

        Returns a :class:`RunResult`.
        """
        senders = self.senders
        for p, stream in streams.items():
            for w in stream:
                senders[p].push(w)
        emitted = [[] for _ in PORTS]
        accepted = [[] for _ in PORTS]
        start = self.cycle
        while (any(s.pending for s in senders) or self.model.buffered) \
                and not (until and until(emitted)):
            n = self.cycle - start
            assert n < max_cycles, f"router did not drain within {max_cycles} cycles"
            await FallingEdge(self.dut.clk)
            ready = [int(port.ready.value) for port in self.inputs]
            expected_ready = [self.model.ready(p) for p in PORTS]
            assert ready == expected_ready, \
                f"cycle {n}: input ready {ready} != model {expected_ready}"
            offered = []
            for p, (port, sender) in enumerate(zip(self.inputs, senders)):
                w = sender.offer(ready[p], backpressure.pause(n, p))
                offered.append(w)
                port.valid.value = int(w is not None)
                if w is not None:
                    port.wavelet.value = w.to_bits()
            out_ready = [backpressure.ready(n, q) for q in PORTS]
            for port, mask in zip(self.outputs, out_ready):
                port.ready.value = mask
            await ReadOnly()
            got = []
            for port in self.outputs:
                if int(port.valid.value):
                    got.append(Wavelet.from_bits(int(port.wavelet.value)))
                else:
                    got.append(None)
            _, expected = self.model.step(offered, out_ready)
            for q in PORTS:
                # Every valid is a transfer: the router only offers colors whose ready is set.
                if got[q] is not None:
                    assert (out_ready[q] >> got[q].color) & 1, \
                        f"cycle {n}: {q.name} offered color {got[q].color} while not ready"
                    emitted[q].append((n, got[q]))
            assert got == expected, f"cycle {n}: outputs {got} != model {expected}"
            for p, sender in enumerate(senders):
                w = sender.commit(ready[p])
                if w is not None:
                    accepted[p].append((n, w))
            self.cycle += 1
        await FallingEdge(self.dut.clk)
        for port in self.inputs:
            port.valid.value = 0
        return RunResult(self.cycle - start, emitted, accepted)
