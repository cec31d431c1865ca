"""Array testbench: configures ``wafer_array`` through its chain, then runs input phases in
lockstep with :class:`wafer_engine.fabric.model.array_model.ArrayModel`."""

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from wafer_engine.fabric.model.array_model import ArrayModel
from wafer_engine.fabric.model.config_model import run_chain
from wafer_engine.fabric.model.wavelet import Wavelet
from wafer_engine.rtl.pe import COUNTERS
from wafer_engine.rtl.ports import Port

from wafer_engine.sw.sim.link import LinkPort

__all__ = ["ArrayTB"]

_SIDE = {Port.N: "n", Port.E: "e", Port.S: "s", Port.W: "w"}
#: Counters that do not depend on how long configuration took.
TIMING_FREE = [c for c in COUNTERS if c != "idle_cycles"]


def check_counters(tb, base):
    """Assert, for every PE, that each timing-free RTL counter rose since ``base`` (``{(tile,
    counter): value}``, updated in place: the RTL keeps counting across runs, a fresh model
    starts at 0) by the model's count, and that no PE counted an error or a wavelet without a
    task. Returns the model's FMAC issues summed over the array."""
    macs = 0
    for tile in tb.model.tiles:
        got, want = tb.counters(tile), tb.model.pes[tile].counters
        for name in TIMING_FREE:
            assert got[name] - base.get((tile, name), 0) == want[name], \
                (tile, name, got[name], want[name])
        base.update({(tile, name): value for name, value in got.items()})
        assert want["errors"] == want["no_task"] == 0, (tile, want)
        macs += want["fmac_issues"]
    return macs


class ArrayTB:
    """Owns clock, reset and the model; every cycle of traffic asserts that the edge ready
    masks and the wavelets leaving every edge are those of the model."""

    def __init__(self, dut, program):
        self.dut, self.program = dut, program
        self.model = ArrayModel(program)
        self.inputs = {e: LinkPort(dut, f"{_SIDE[e[0]]}_i", e[1]) for e in self.model.edges}
        self.outputs = {e: LinkPort(dut, f"{_SIDE[e[0]]}_o", e[1]) for e in self.model.edges}
        self.all_ready = (1 << program.colors) - 1
        #: What the RTL sent out of each edge, ``[(cycle, Wavelet)]``, and the cycles of the
        #: first wavelet taken in at any edge and of the last one sent out.
        self.observed = {e: [] for e in self.model.edges}
        self.first_in = self.last_out = None
        # Links between tiles, as named wires of the top: t<r>_<c>_<port>_{valid,wavelet}.
        self.links = {}
        for (r, c) in self.model.tiles:
            for p in (Port.N, Port.E, Port.S, Port.W):
                stem = f"t{r}_{c}_{p.name}"
                if hasattr(dut, f"{stem}_valid"):
                    self.links[((r, c), p)] = (getattr(dut, f"{stem}_valid"),
                                               getattr(dut, f"{stem}_wavelet"))

    async def reset(self):
        cocotb.start_soon(Clock(self.dut.clk, 10, unit="ns").start())
        self.dut.rst.value = 1
        self.dut.cfg_i__valid.value = 0
        self.dut.cfg_o__ready.value = 1
        for port in self.inputs.values():
            port.valid.value = 0
        for port in self.outputs.values():
            port.ready.value = self.all_ready
        for _ in range(2):
            await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0

    async def configure(self):
        """Send the program's configuration words; returns the cycles until the chain is
        quiet (every tile written)."""
        words = self.program.config_words()
        cycles = 0
        pending = list(words)
        while pending:
            await FallingEdge(self.dut.clk)
            self.dut.cfg_i__valid.value = 1
            self.dut.cfg_i__payload.value = pending[0]
            await ReadOnly()
            if int(self.dut.cfg_i__ready.value):
                pending.pop(0)
            cycles += 1
        await FallingEdge(self.dut.clk)
        self.dut.cfg_i__valid.value = 0
        # The chain needs at most one cycle per tile after the last word (model's count).
        expected, _ = run_chain(len(self.model.tiles), words)
        for _ in range(max(expected - cycles, 0) + 2):
            await RisingEdge(self.dut.clk)
        return expected

    async def run_phase(self, streams, edge_ready=None, max_cycles=1_000_000):
        """Queue ``streams`` at the edges and clock until the model is quiet; returns the
        phase's cycle count."""
        model = self.model
        model.feed(streams)
        start = model.cycle
        while model.busy:
            assert model.cycle - start < max_cycles, "array did not go quiet"
            await FallingEdge(self.dut.clk)
            expected_ready = model.edge_ready()
            cycle = model.cycle
            for edge, port in self.inputs.items():
                got = int(port.ready.value)
                assert got == expected_ready[edge], \
                    f"cycle {model.cycle}: edge {edge} ready {got} != model {expected_ready[edge]}"
            ready = edge_ready(model.cycle) if edge_ready else None
            offered, expected = model.step(ready)
            for edge, port in self.inputs.items():
                w = offered[edge]
                port.valid.value = int(w is not None)
                if w is not None:
                    port.wavelet.value = w.to_bits()
                    if self.first_in is None and (expected_ready[edge] >> w.color) & 1:
                        self.first_in = cycle
            for edge, port in self.outputs.items():
                port.ready.value = ready[edge] if ready else self.all_ready
            await ReadOnly()
            for (tile, p), (valid, wavelet) in self.links.items():
                got = Wavelet.from_bits(int(wavelet.value)) if int(valid.value) else None
                want = model.links[tile][p]
                assert got == want, \
                    f"cycle {model.cycle - 1}: link {tile} {p.name} {got} != model {want}"
            for edge, port in self.outputs.items():
                got = Wavelet.from_bits(int(port.wavelet.value)) if int(port.valid.value) \
                    else None
                assert got == expected[edge], \
                    f"cycle {cycle}: edge {edge} out {got} != model {expected[edge]}"
                if got is not None:
                    self.observed[edge].append((cycle, got))
                    self.last_out = cycle
        await FallingEdge(self.dut.clk)
        for port in self.inputs.values():
            port.valid.value = 0
        return model.cycle - start

    def counters(self, tile):
        """The RTL counters of ``tile``'s PE."""
        r, c = tile
        return {name: int(getattr(self.dut, f"t{r}_{c}_{name}").value) for name in COUNTERS}
