"""Driving a lone PE's ports from an amaranth.sim testbench: the configuration and peek ports,
one wavelet on the input link, and a run of a scenario with a clock and a resettable domain.
Shared by the tests that follow the PE across a reset (tests/test_pe_task_table.py,
tests/test_pe_reduce_counter.py)."""

from amaranth.hdl import ClockDomain, Module
from amaranth.sim import Simulator

from wafer_engine.rtl.pe.ports import Target

__all__ = ["PePorts", "run_pe_scenario"]


class PePorts:
    """The ports of ``pe`` as one testbench sees them (``ctx``: its simulator context)."""

    def __init__(self, ctx, pe, domain):
        self.ctx, self.pe, self.domain = ctx, pe, domain

    async def pulse(self, signal):
        """``signal`` high for one cycle."""
        self.ctx.set(signal, 1)
        await self.ctx.tick()
        self.ctx.set(signal, 0)

    async def reset(self):
        await self.pulse(self.domain.rst)

    async def configure(self, target, addr, data):
        """One configuration write."""
        self.ctx.set(self.pe.cfg.target, target)
        self.ctx.set(self.pe.cfg.addr, addr)
        self.ctx.set(self.pe.cfg.data, data)
        await self.pulse(self.pe.cfg.valid)

    async def peek(self, target, addr):
        """The peek port's answer for ``(target, addr)``, a cycle later."""
        self.ctx.set(self.pe.peek.target, target)
        self.ctx.set(self.pe.peek.addr, addr)
        await self.ctx.tick()
        return self.ctx.get(self.pe.peek.data)

    async def send(self, wavelet, settle=25):
        """``wavelet`` on the input link for one cycle, then ``settle`` cycles for it to pass
        the whole pipeline (every output color ready)."""
        self.ctx.set(self.pe.o.ready, (1 << self.pe.params.colors) - 1)
        self.ctx.set(self.pe.i.wavelet, wavelet)
        await self.pulse(self.pe.i.valid)
        for _ in range(settle):
            await self.ctx.tick()

    async def configure_row(self, color, words, only_word=None):
        """Write ``color``'s task row (both words, or word ``only_word``)."""
        for word, data in enumerate(words):
            if only_word is None or word == only_word:
                await self.configure(Target.TASK, 2 * color + word, data)


def run_pe_scenario(pe, scenario):
    """Simulate ``pe`` with ``scenario(ports, seen)`` as the testbench; returns ``seen``, the
    dict the scenario filled."""
    m = Module()
    m.domains.sync = domain = ClockDomain()
    m.submodules.pe = pe
    seen = {}

    async def bench(ctx):
        await scenario(PePorts(ctx, pe, domain), seen)

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return seen
