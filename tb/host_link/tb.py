"""Host link testbench: drives bytes into ``rx`` and wavelets out of the "array" (the edge
output links), answers the counter read port, takes configuration words, edge inputs and ``tx``
bytes with random backpressure, and checks the core against
:class:`wafer_engine.fabric.model.host_protocol.HostLinkModel`."""

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from wafer_engine.fabric.model.host_protocol import CounterValue, HostLinkModel, ReplyDecoder
from wafer_engine.fabric.model.wavelet import Wavelet
from wafer_engine.sw.sim.link import LinkPort

__all__ = ["HostLinkTB", "counter_value"]


def counter_value(tile, counter):
    """The value the testbench's "array" gives PE counter ``counter`` of ``tile``: distinct
    for every pair and using all 32 bits."""
    return (tile * 0x9E3779B1 + counter * 0x85EBCA6B + 0x2545F491) & 0xFFFFFFFF


class HostLinkTB:
    """Owns clock, reset and every driver; :meth:`run` advances cycle by cycle.

    ``rx_pause``, ``cfg_stall``, ``edge_stall``, ``tx_stall`` are the probabilities that in a
    cycle the byte source holds back, the chain is not ready, a color at an edge input is not
    ready, and the host does not take a ``tx`` byte. What the core produced collects in
    ``cfg_words``, ``edge_in[port]`` (wavelets), ``frames`` (decoded ``tx`` frames), and
    ``sent[port]`` (``(cycle, wavelet)`` the "array" handed to the core).
    """

    def __init__(self, dut, edges, colors, rng, rx_pause=0.0, cfg_stall=0.0, edge_stall=0.0,
                 tx_stall=0.0, tiles=1):
        self.dut, self.edges, self.colors, self.rng = dut, edges, colors, rng
        self.rx_pause, self.cfg_stall = rx_pause, cfg_stall
        self.edge_stall, self.tx_stall = edge_stall, tx_stall
        self.model = HostLinkModel(edges, colors, tiles)
        self.into = [LinkPort(dut, "edge_i", k) for k in range(edges)]
        self.outof = [LinkPort(dut, "edge_o", k) for k in range(edges)]
        self.pending = bytearray()
        self.expected = []                  # the model's actions for the bytes sent so far
        self.cfg_words, self.edge_in = [], [[] for _ in range(edges)]
        self.to_send = [[] for _ in range(edges)]
        self.sent = [[] for _ in range(edges)]
        self.decoder, self.frames = ReplyDecoder(), []
        self.cycle = 0                      # cycles since reset released
        self.idle = 1
        self.rx_overrun = 0                 # drives the receiver's overrun strobe input
        self.resets = 0                     # cycles with array_rst high
        self._held = [None] * edges         # edge input offers seen, for the hold rule

    async def start(self):
        cocotb.start_soon(Clock(self.dut.clk, 10, unit="ns").start())
        d = self.dut
        d.rst.value = 1
        d.rx__valid.value = d.cfg__ready.value = d.tx__ready.value = 0
        d.idle.value = 1
        d.counter_value.value = 0
        d.rx_overrun.value = d.rx_frame_error.value = 0
        for port in self.outof:
            port.valid.value = 0
        for port in self.into:
            port.ready.value = 0
        for _ in range(2):
            await RisingEdge(d.clk)
        d.rst.value = 0

    def send(self, data):
        """Queue host bytes; the model's actions for them extend ``expected``."""
        self.pending += data
        self.expected += self.model.feed(data)

    async def run(self, cycles=None, until=None, limit=200_000):
        """Clock ``cycles`` cycles, or until ``until()`` is true (at most ``limit``)."""
        d, rng, n = self.dut, self.rng, 0
        while (cycles is None or n < cycles) and not (until and until()):
            assert n < limit, "the host link did not finish"
            n += 1
            await FallingEdge(d.clk)
            d.idle.value = self.idle
            d.rx_overrun.value = self.rx_overrun
            # The counter read port is combinational in the array; its select comes from
            # registers, so it is stable after the edge.
            d.counter_value.value = counter_value(int(d.counter_tile.value),
                                                  int(d.counter_id.value))
            rx_valid = bool(self.pending) and rng.random() >= self.rx_pause
            d.rx__valid.value = int(rx_valid)
            d.rx__payload.value = self.pending[0] if self.pending else 0
            cfg_ready = rng.random() >= self.cfg_stall
            d.cfg__ready.value = int(cfg_ready)
            tx_ready = rng.random() >= self.tx_stall
            d.tx__ready.value = int(tx_ready)
            masks = []
            for port in self.into:
                mask = sum(1 << c for c in range(self.colors) if rng.random() >= self.edge_stall)
                port.ready.value = mask
                masks.append(mask)
            # The "array" offers a wavelet only for a color that is ready, as the router does;
            # the core's ready comes from its registers, so it is stable after the edge.
            offers = []
            for k, port in enumerate(self.outof):
                ready = int(port.ready.value)
                w = self.to_send[k][0] if self.to_send[k] else None
                offer = w is not None and (ready >> w.color) & 1
                port.valid.value = int(offer)
                port.wavelet.value = w.to_bits() if offer else 0
                offers.append(w if offer else None)
            await ReadOnly()
            if rx_valid and int(d.rx__ready.value):
                self.pending.pop(0)
            if int(d.cfg__valid.value) and cfg_ready:
                self.cfg_words.append(int(d.cfg__payload.value))
            for k, port in enumerate(self.into):
                if int(port.valid.value):
                    w = Wavelet.from_bits(int(port.wavelet.value))
                    held = self._held[k]
                    assert held is None or held == w, f"edge input {k} changed {held} -> {w}"
                    if (masks[k] >> w.color) & 1:
                        self.edge_in[k].append(w)
                        self._held[k] = None
                    else:
                        self._held[k] = w
                else:
                    assert self._held[k] is None, f"edge input {k} withdrew {self._held[k]}"
            for k, w in enumerate(offers):
                if w is not None:
                    self.sent[k].append((self.cycle, self.to_send[k].pop(0)))
            if int(d.tx__valid.value) and tx_ready:
                self.frames += self.decoder.feed(bytes([int(d.tx__payload.value)]))
            self.resets += int(d.array_rst.value)
            self.cycle += 1

    def expected_counters(self):
        """The COUNTER_VALUE frames the model says the core must send, in order: the
        "array"'s value, or 0 for a tile or counter out of range."""
        return [CounterValue(a[1], a[2], 0 if len(a) > 3 else counter_value(a[1], a[2]))
                for a in self.expected if a[0] == "counter"]

    def expected_inputs(self):
        """``(config words, wavelets per port)`` the model says the core must deliver."""
        words = [a[1] for a in self.expected if a[0] == "config"]
        per_port = [[] for _ in range(self.edges)]
        for a in self.expected:
            if a[0] == "wavelet":
                per_port[a[1]].append(a[2])
        return words, per_port
