"""Golden model of :class:`wafer_engine.rtl.router.Router`: a functional model and a cycle-exact model.

:func:`route_streams` says what leaves each (port, color) for given input streams, independent of
timing. :class:`RouterModel` mirrors the RTL register by register (virtual-channel FIFOs, sent
masks, round-robin pointers), so for the same stimulus it produces the same wavelets in the same
cycles, including the interleaving where several inputs merge into one output color.
"""

from collections import deque

from wafer_engine.rtl.ports import PORTS, Port
from wafer_engine.rtl.route import check_routes
from wafer_engine.rtl.params import check_depth
from wafer_engine.rtl.wavelet import check_colors

from wafer_engine.fabric.model.arbiter_model import RoundRobinModel
from wafer_engine.fabric.model.wavelet import Wavelet

__all__ = ["route_streams", "RouterModel", "simulate_router"]

NPORTS = len(PORTS)


def _delivers(route, port, wavelet):
    """Whether ``wavelet`` of a color routed by ``route`` is delivered to output ``port``."""
    if port not in route.tx:
        return False
    return port != Port.RAMP or wavelet.control or route.accepts_index(wavelet.index)


def route_streams(routes, colors, inputs):
    """Functional model: the wavelets each output receives from each input.

    Args:
        routes: ``{color: Route}``.
        inputs: ``{port: [Wavelet, ...]}``, the streams entering each input port.

    Returns ``{(out_port, color, in_port): [Wavelet, ...]}``: per source, the order is the input
    order. Wavelets of a color not accepted on their port are absent (the router never takes them).
    """
    table = check_routes(routes, colors)
    out = {}
    for p, stream in inputs.items():
        p = Port(p)
        for w in stream:
            route = table[w.color]
            if p not in route.rx:
                continue
            for q in route.tx:
                if _delivers(route, q, w):
                    out.setdefault((q, w.color, p), []).append(w)
    return out


class RouterModel:
    """Cycle-exact router: call :meth:`ready`, then :meth:`step` once per clock cycle."""

    def __init__(self, *, colors, depth, routes=None):
        self.colors = check_colors(colors)
        self.depth = check_depth(depth)
        self.table = check_routes(routes, colors)
        # Buffer k = c * 5 + p, as in the RTL.
        self.fifos = [deque() for _ in range(colors * NPORTS)]
        self.sent = [0] * (colors * NPORTS)
        self.arbiters = [RoundRobinModel(colors * NPORTS) for _ in PORTS]
        self._grants = [None] * NPORTS

    def configure(self, color, route):
        """Write one route table row (takes effect for the next cycle, like ``cfg``)."""
        self.table[color] = check_routes({color: route}, self.colors)[color]

    def ready(self, port):
        """The ``colors``-bit ready mask the router drives on input ``port`` this cycle."""
        mask = 0
        for c, route in enumerate(self.table):
            if port in route.rx and route.tx and len(self.fifos[c * NPORTS + port]) < self.depth:
                mask |= 1 << c
        return mask

    def emit(self, out_ready):
        """The combinational half of a cycle: per output port, the wavelet transferred out this
        cycle (or ``None``), given the receivers' ready masks ``out_ready``. Changes no state;
        :meth:`commit` completes the cycle."""
        self._grants = [None] * NPORTS
        emitted = [None] * NPORTS
        for q in PORTS:
            requests = []
            for k, fifo in enumerate(self.fifos):
                c = k // NPORTS
                route = self.table[c]
                requests.append(bool(fifo) and q in route.tx and not (self.sent[k] >> q) & 1
                                and (out_ready[q] >> c) & 1 and _delivers(route, q, fifo[0]))
            k = self.arbiters[q].grant(requests)
            if k is not None:
                self._grants[q] = k
                emitted[q] = self.fifos[k][0]
        return emitted

    def commit(self, offered):
        """The clock edge ending the cycle :meth:`emit` computed. ``offered``: per input port,
        the wavelet driven with ``valid`` or ``None``. Returns per input port whether it was
        taken."""
        grants = self._grants
        accepted = [False] * NPORTS
        for p in PORTS:
            w = offered[p]
            accepted[p] = w is not None and bool((self.ready(p) >> w.color) & 1)
        for q in PORTS:
            if grants[q] is not None:
                self.arbiters[q].advance(grants[q])
        # Pop finished heads, then push accepted wavelets.
        all_ports = (1 << NPORTS) - 1
        for k, fifo in enumerate(self.fifos):
            if not fifo:
                continue
            route = self.table[k // NPORTS]
            taken = sum(1 << q for q in PORTS if grants[q] == k)
            done = self.sent[k] | taken | (all_ports & ~route.tx_mask)
            if Port.RAMP in route.tx and not _delivers(route, Port.RAMP, fifo[0]):
                done |= 1 << Port.RAMP
            if done == all_ports:
                fifo.popleft()
                self.sent[k] = 0
            else:
                self.sent[k] |= taken
        for p in PORTS:
            if accepted[p]:
                w = offered[p]
                self.fifos[w.color * NPORTS + p].append(Wavelet(w.color, w.payload, w.control))
        return accepted

    def step(self, offered, out_ready):
        """Advance one clock cycle: :meth:`emit` then :meth:`commit`.

        Args:
            offered: per input port, the wavelet driven with ``valid`` or ``None``.
            out_ready: per output port, the receiver's ready mask.

        Returns ``(accepted, emitted)``: per input port whether its wavelet was taken, and per
        output port the wavelet transferred out this cycle or ``None``.
        """
        emitted = self.emit(out_ready)
        return self.commit(offered), emitted

    @property
    def buffered(self):
        return sum(len(f) for f in self.fifos)


def simulate_router(model, senders, backpressure, max_cycles=10_000_000):
    """Run ``model`` with one :class:`~wafer_engine.fabric.model.traffic.LinkSender` per input until it drains.

    Returns ``(cycles, emitted)``: the cycle count and per output port a list of
    ``(cycle, Wavelet)``. Raises ``RuntimeError`` if traffic is still in flight after
    ``max_cycles`` (a route that never drains).
    """
    emitted = [[] for _ in PORTS]
    cycle = 0
    while any(s.pending for s in senders) or model.buffered:
        if cycle >= max_cycles:
            raise RuntimeError(f"Router did not drain within {max_cycles} cycles")
        ready = [model.ready(p) for p in PORTS]
        offered = [s.offer(ready[p], backpressure.pause(cycle, p)) for p, s in enumerate(senders)]
        out_ready = [backpressure.ready(cycle, q) for q in PORTS]
        _, out = model.step(offered, out_ready)
        for p, s in enumerate(senders):
            s.commit(ready[p])
        for q, w in enumerate(out):
            if w is not None:
                emitted[q].append((cycle, w))
        cycle += 1
    return cycle, emitted
