"""PE testbench: clock, reset, configuration and peek through the PE's own ports, and traffic
run in lockstep with the cycle-exact golden model."""

from typing import NamedTuple

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from wafer_engine.fabric.model.pe_model import InOrderSender, PeModel
from wafer_engine.fabric.model.wavelet import Wavelet
from wafer_engine.rtl.pe.ports import COUNTERS, Target
from wafer_engine.rtl.params import PeParams

__all__ = ["PeTB", "RunResult"]


class RunResult(NamedTuple):
    """What one :meth:`PeTB.run` observed on the RTL; cycles count from the run's start."""
    cycles: int
    emitted: list       #: ``[(cycle, Wavelet)]`` transfers out of the PE
    accepted: list      #: ``[(cycle, Wavelet)]`` transfers into the PE


class _Link:
    """Handles of a non-array link port (``i__valid``, ``i__wavelet``, ``i__ready``)."""

    def __init__(self, dut, name):
        self.valid = getattr(dut, f"{name}__valid")
        self.wavelet = getattr(dut, f"{name}__wavelet")
        self.ready = getattr(dut, f"{name}__ready")


class PeTB:
    """Owns the DUT's clock and reset and a :class:`PeModel` stepped in the same cycles.

    Every clock cycle after reset is one :meth:`cycle`: the same stimulus goes to the RTL and
    the model, and the input ready mask, the idle flag and the output transfer must agree, so a
    divergence fails at its first cycle. Counters, mem and acc are compared on demand.
    """

    def __init__(self, dut, params):
        self.dut = dut
        self.model = PeModel(PeParams(**params))
        self.params = self.model.params
        self.i = _Link(dut, "i")
        self.o = _Link(dut, "o")
        self.all_colors = (1 << self.params.colors) - 1
        self.cycles = 0

    async def reset(self):
        cocotb.start_soon(Clock(self.dut.clk, 10, unit="ns").start())
        dut = self.dut
        dut.rst.value = 1
        for name in ("cfg__valid", "cfg__target", "cfg__addr", "cfg__data", "peek__target",
                     "peek__addr"):
            getattr(dut, name).value = 0
        self.i.valid.value = 0
        self.i.wavelet.value = 0
        self.o.ready.value = 0
        for _ in range(2):
            await RisingEdge(dut.clk)
        await FallingEdge(dut.clk)
        dut.rst.value = 0
        # This cycle ends with the first edge out of reset: the RTL counts it, so does the model.
        self.model.step()
        self.cycles += 1

    async def cycle(self, offer=None, out_ready=0, cfg=None, peek=None, counters=False):
        """One clock cycle in lockstep. Returns ``(input ready mask, output Wavelet or None,
        peek data of the previous cycle's request)``. With ``counters``, the RTL's counters
        and sticky flag (which hold every cycle before this one) must equal the model's."""
        dut, model = self.dut, self.model
        n = self.cycles
        await FallingEdge(dut.clk)
        ready = int(self.i.ready.value)
        assert ready == model.ready(), f"cycle {n}: input ready {ready:#x} != model " \
                                       f"{model.ready():#x}"
        self.i.valid.value = int(offer is not None)
        if offer is not None:
            self.i.wavelet.value = offer.to_bits()
        self.o.ready.value = out_ready
        dut.cfg__valid.value = int(cfg is not None)
        if cfg is not None:
            target, addr, data = cfg
            dut.cfg__target.value = int(Target(target).value)
            dut.cfg__addr.value = addr
            dut.cfg__data.value = data
        if peek is not None:
            dut.peek__target.value = int(Target(peek[0]).value)
            dut.peek__addr.value = peek[1]
        await ReadOnly()
        got = Wavelet.from_bits(int(self.o.wavelet.value)) if int(self.o.valid.value) else None
        idle = int(dut.idle.value)
        peeked = int(dut.peek__data.value)
        assert idle == (not model.busy), f"cycle {n}: idle {idle} != model {not model.busy}"
        if got is not None:
            assert (out_ready >> got.color) & 1, \
                f"cycle {n}: output offered color {got.color} while not ready"
        if counters:
            got_counters = self.read_counters()
            want_counters = {k: v % (1 << 32) for k, v in model.counters.items()}  # they wrap
            assert got_counters == want_counters, \
                f"cycle {n}: counters {got_counters} != model {want_counters}"
            assert int(dut.no_task_seen.value) == model.no_task_seen, \
                f"cycle {n}: no_task_seen {int(dut.no_task_seen.value)} != model"
        expected = model.step(offer, out_ready, cfg)
        assert got == expected, f"cycle {n}: output {got} != model {expected}"
        self.cycles += 1
        return ready, got, peeked

    async def configure(self, writes):
        """Apply ``[(Target, addr, data)]`` through the cfg port, one per cycle (model too)."""
        for write in writes:
            await self.cycle(out_ready=self.all_colors, cfg=write)

    async def load(self, program):
        """Load a :class:`wafer_engine.fabric.program.pe_task.PeProgram` (tasks and memory images)."""
        await self.configure(program.config_writes())

    async def peek(self, target, addrs):
        """Read ``addrs`` of ``target`` through the peek port, one per cycle (PE idle)."""
        addrs = list(addrs)
        values = []
        for k, addr in enumerate(addrs + [None]):
            request = (target, addr) if addr is not None else None
            _, _, data = await self.cycle(out_ready=self.all_colors, peek=request)
            if k > 0:
                values.append(data)
        return values

    async def check_memories(self, mem_range=None, acc_range=None):
        """Peek mem and acc (whole arrays by default) and compare them with the model."""
        p = self.params
        assert not self.model.busy, "memories can only be peeked while the PE is idle"
        mem_range = range(p.mem_words) if mem_range is None else mem_range
        acc_range = range(p.acc_words) if acc_range is None else acc_range
        for target, rng, array in ((Target.MEM, mem_range, self.model.mem),
                                   (Target.ACC, acc_range, self.model.acc)):
            got = await self.peek(target, rng)
            want = [int(array[a]) for a in rng]
            bad = [(a, g, w) for a, g, w in zip(rng, got, want) if g != w]
            assert not bad, f"{target.name} differs at {len(bad)} addresses, first " \
                            f"(addr, rtl, model): {bad[:5]}"

    def read_counters(self):
        return {name: int(getattr(self.dut, f"counters__{name}").value) for name in COUNTERS}

    async def check_counters(self):
        """One idle cycle in which the RTL's counters must equal the model's; returns them."""
        counters = dict(self.model.counters)
        await self.cycle(out_ready=self.all_colors, counters=True)
        return counters

    async def run(self, wavelets, backpressure=None, max_cycles=1_000_000):
        """Send ``wavelets`` in order and clock until RTL and model are idle again.

        ``backpressure``: a :class:`wafer_engine.fabric.model.traffic.Backpressure` with ``ports=2`` (port 0
        pauses the input, port 1 masks the output's ready), or ``None`` for back-to-back input
        and an always-ready output. Returns a :class:`RunResult`.
        """
        sender = InOrderSender(wavelets)
        emitted, accepted = [], []
        start = self.cycles
        n = 0
        while sender.pending or self.model.busy:
            assert n < max_cycles, f"PE did not finish within {max_cycles} cycles"
            paused = backpressure.pause(n, 0) if backpressure else False
            out_ready = backpressure.ready(n, 1) if backpressure else self.all_colors
            ready, got, _ = await self.cycle(sender.offer(paused), out_ready)
            w = sender.commit(ready)
            if w is not None:
                accepted.append((n, w))
            if got is not None:
                emitted.append((n, got))
            n += 1
        return RunResult(self.cycles - start, emitted, accepted)
