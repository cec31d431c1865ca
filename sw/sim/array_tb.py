"""Array testbench: configures ``wafer_array`` through its chain, timing the chain on the RTL,
then runs input phases in lockstep with :class:`wafer_engine.fabric.model.array_model.ArrayModel`
and ends each one only once the RTL, too, has gone quiet."""

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from wafer_engine.fabric.model.array_model import ArrayModel
from wafer_engine.fabric.model.wavelet import Wavelet
from wafer_engine.fabric.program.program import chain_order
from wafer_engine.rtl.pe import COUNTERS, PIPELINE
from wafer_engine.rtl.ports import Port

from wafer_engine.sw.sim.link import LinkPort

__all__ = ["ArrayTB", "QUIET_CYCLES", "CHAIN_QUIET_CYCLES", "TIMING_FREE", "check_counters"]

_SIDE = {Port.N: "n", Port.E: "e", Port.S: "s", Port.W: "w"}
#: Counters that do not depend on how long configuration took (nor on the idle cycles the RTL
#: spends proving it quiet between phases).
TIMING_FREE = [c for c in COUNTERS if c != "idle_cycles"]
#: Consecutive cycles in which, after the model went quiet, every PE's ``idle`` must be high
#: and no edge output or link between tiles may carry a wavelet before a phase ends.
#: ``idle`` covers a PE's input FIFO, decoder, pipeline and output FIFO, and the links and
#: edges show every wavelet that moves; only a wavelet waiting in a router buffer is unseen,
#: and it moves on within one hop (1 cycle) once its output is ready (edge outputs are held
#: ready meanwhile, an idle PE has room). So one quiet cycle would do; the window is the PE's
#: pipeline depth (issue to output FIFO) plus 2, so that even an ``idle`` that missed a whole
#: pipeline's worth of work would be caught when that work reaches the output.
QUIET_CYCLES = PIPELINE["push"] + 2
#: Consecutive cycles without chain activity that end configuration. A word moves one tile
#: per cycle and is, every cycle until its tile takes it, either offered on some tile's chain
#: input or written by its tile the cycle after, so one quiet cycle means the chain is done;
#: the second is margin.
CHAIN_QUIET_CYCLES = 2


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
    masks, the wavelets on every link between tiles and those leaving every edge are those of
    the model, and a phase ends only when the RTL, too, has been quiet for
    :data:`QUIET_CYCLES` cycles. :meth:`configure` times the configuration chain on the
    RTL."""

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
        #: Wavelets the RTL took in at its edges (valid with its ready bit for the color set).
        self.wavelets_in = 0
        #: Each PE's idle wire, ``t<r>_<c>_idle``.
        self.idle = {(r, c): getattr(dut, f"t{r}_{c}_idle") for (r, c) in self.model.tiles}
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

    async def configure(self, pauses=(), max_cycles=1_000_000):
        """Send the program's configuration words into the chain (its end always ready),
        back to back except in the cycles listed in ``pauses`` (counted from the first cycle
        of the call), and clock until the chain is quiet. Returns the configuration time
        measured on the RTL, in cycles: from the cycle the first word is offered to the last
        cycle with chain activity, both included. Activity is a word still to be sent, a word
        valid on any tile's chain output (``cfg<n>_valid``, ``cfg_o__valid``) or a
        configuration write strobe in any tile (``tile_<r>_<c>.cfg.write__valid``: the tile
        taking an item, the cycle after the item's last word). The model's prediction of this
        count, for words sent back to back, is
        :func:`wafer_engine.fabric.model.config_model.run_chain`."""
        dut, program = self.dut, self.program
        order = chain_order(program.rows, program.cols)
        chain = [getattr(dut, f"cfg{n}_valid") for n in range(1, len(order))]
        chain.append(dut.cfg_o__valid)
        strobes = [getattr(dut, f"tile_{r}_{c}").cfg.write__valid for r, c in order]
        pending = list(program.config_words())
        pauses = frozenset(pauses)
        cycle, first, last, quiet = 0, None, None, 0
        while pending or quiet < CHAIN_QUIET_CYCLES:
            assert cycle < max_cycles, \
                f"configuration chain not quiet after {max_cycles} cycles"
            await FallingEdge(dut.clk)
            offer = bool(pending) and cycle not in pauses
            dut.cfg_i__valid.value = int(offer)
            if offer:
                dut.cfg_i__payload.value = pending[0]
                first = cycle if first is None else first
            await ReadOnly()
            if first is not None and (pending or any(int(v.value) for v in chain + strobes)):
                last, quiet = cycle, 0
            else:
                quiet += 1
            if offer and int(dut.cfg_i__ready.value):
                pending.pop(0)
            cycle += 1
        await FallingEdge(dut.clk)
        return 0 if first is None else last - first + 1

    async def run_phase(self, streams, edge_ready=None, max_cycles=1_000_000):
        """Queue ``streams`` at the edges and clock in lockstep until the model is quiet, then
        until the RTL has been quiet for :data:`QUIET_CYCLES` cycles in a row (every PE idle,
        nothing on an edge output or a link between tiles); returns the phase's cycle count
        in model cycles (the RTL's quiet check adds none). ``edge_ready(cycle)`` gives the
        edge outputs' ready masks while the model runs (default: always ready). A wavelet the
        RTL sends after the model went quiet fails the run."""
        model = self.model
        model.feed(streams)
        start = model.cycle
        while model.busy:
            assert model.cycle - start < max_cycles, "array did not go quiet"
            await FallingEdge(self.dut.clk)
            expected_ready = model.edge_ready()
            cycle = model.cycle
            rtl_ready = self._check_edge_ready(expected_ready)
            ready = edge_ready(model.cycle) if edge_ready else None
            offered, expected = model.step(ready)
            for edge, port in self.inputs.items():
                w = offered[edge]
                port.valid.value = int(w is not None)
                if w is not None:
                    port.wavelet.value = w.to_bits()
                    if (rtl_ready[edge] >> w.color) & 1:
                        self.wavelets_in += 1
                        if self.first_in is None:
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
        await self._settle(max_cycles)
        await FallingEdge(self.dut.clk)
        for port in self.inputs.values():
            port.valid.value = 0
        return model.cycle - start

    def _check_edge_ready(self, expected_ready):
        """Assert the RTL's edge input ready masks are the model's; returns the RTL's."""
        got = {edge: int(port.ready.value) for edge, port in self.inputs.items()}
        for edge, mask in got.items():
            assert mask == expected_ready[edge], \
                f"cycle {self.model.cycle}: edge {edge} ready {mask} != model " \
                f"{expected_ready[edge]}"
        return got

    async def _settle(self, max_cycles):
        """With the model quiet, clock the RTL alone (no inputs, every edge output ready)
        until it has been quiet for :data:`QUIET_CYCLES` cycles in a row. A busy PE only
        delays the end; a wavelet on an edge output or a link fails at once, as the model has
        none left to send."""
        quiet = waited = 0
        while quiet < QUIET_CYCLES:
            await FallingEdge(self.dut.clk)
            assert waited < max_cycles, \
                f"RTL not quiet {max_cycles} cycles after the model went quiet at cycle " \
                f"{self.model.cycle}: busy PEs {self._busy_tiles()}"
            self._check_edge_ready(self.model.edge_ready())
            for port in self.inputs.values():
                port.valid.value = 0
            for port in self.outputs.values():
                port.ready.value = self.all_ready
            await ReadOnly()
            late = [(edge, Wavelet.from_bits(int(port.wavelet.value)))
                    for edge, port in self.outputs.items() if int(port.valid.value)]
            assert not late, \
                f"cycle {self.model.cycle + waited}: the RTL sent {late} (edge, wavelet), " \
                f"{waited} cycles after the model went quiet at cycle {self.model.cycle}"
            moving = [(tile, p.name, Wavelet.from_bits(int(wavelet.value)))
                      for (tile, p), (valid, wavelet) in self.links.items() if int(valid.value)]
            assert not moving, \
                f"cycle {self.model.cycle + waited}: links {moving} (tile, port, wavelet) " \
                f"carry wavelets {waited} cycles after the model went quiet at cycle " \
                f"{self.model.cycle}"
            quiet = 0 if self._busy_tiles() else quiet + 1
            waited += 1

    def _busy_tiles(self):
        return [tile for tile, idle in self.idle.items() if not int(idle.value)]

    def counters(self, tile):
        """The RTL counters of ``tile``'s PE."""
        r, c = tile
        return {name: int(getattr(self.dut, f"t{r}_{c}_{name}").value) for name in COUNTERS}
