"""Golden model of :class:`wafer_engine.rtl.router.Router`: a functional model and a cycle-exact model.

:func:`route_streams` says what leaves each (port, color) for given input streams, independent of
timing. :class:`RouterModel` mirrors the RTL register by register (buffer memories, counts and slot
pointers, sent masks, selected colors, round-robin pointers), so for the same stimulus it
produces the same wavelets in the same cycles, including the interleaving where several inputs
merge into one output color.
"""

from wafer_engine.rtl.ports import PORTS, Port
from wafer_engine.rtl.route import check_routes
from wafer_engine.rtl.router import slots_per_color
from wafer_engine.rtl.params import check_depth
from wafer_engine.rtl.wavelet import check_colors

from wafer_engine.fabric.model.arbiter_model import RoundRobinModel, first_after
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
    """Cycle-exact router: call :meth:`ready`, then :meth:`step` once per clock cycle.

    The state is the RTL's register by register: per input port an arrival register (the
    wavelet taken from the link in the previous cycle, or ``None``) and a buffer memory addressed
    ``color * slots + slot`` holding ``(payload, control, mask)``; per (input, color) a count,
    read and write slots and the ``sent`` mask; per input the selected color, whether it is
    valid and the registered read address; per output a round-robin arbiter over the four
    other inputs.
    """

    def __init__(self, *, colors, depth, routes=None):
        self.colors = check_colors(colors)
        self.depth = check_depth(depth)
        self.table = check_routes(routes, colors)
        self.slots = slots_per_color(depth)
        self.memory = [[None] * (colors * self.slots) for _ in PORTS]
        self.stage = [None] * NPORTS
        self.count = [[0] * colors for _ in PORTS]
        self.rd = [[0] * colors for _ in PORTS]
        self.wr = [[0] * colors for _ in PORTS]
        self.sent = [[0] * colors for _ in PORTS]
        self.sel = [0] * NPORTS
        self.sel_valid = [False] * NPORTS
        self.raddr = [0] * NPORTS
        self.arbiters = [RoundRobinModel(NPORTS - 1) for _ in PORTS]
        # The receivers' ready masks of the previous cycle (the predictor's registers).
        self.ready_seen = [0] * NPORTS
        self._grants = [None] * NPORTS
        self._requests = [0] * NPORTS

    def configure(self, color, route):
        """Write one route table row (takes effect for the next cycle, like ``cfg``)."""
        self.table[color] = check_routes({color: route}, self.colors)[color]

    def ready(self, port):
        """The ``colors``-bit ready mask the router drives on input ``port`` this cycle: the
        colors with room for one more wavelet, the one in the arrival register counted."""
        staged = self.stage[port]
        mask = 0
        for c, route in enumerate(self.table):
            held = self.count[port][c] + (staged is not None and staged.color == c)
            if port in route.rx and route.tx and held < self.depth:
                mask |= 1 << c
        return mask

    def _remaining(self, p):
        """Outputs the head input ``p`` presents still goes to (0 when nothing is presented)."""
        if not self.sel_valid[p]:
            return 0
        _, _, mask = self.memory[p][self.raddr[p]]
        return mask & ~self.sent[p][self.sel[p]]

    def emit(self, out_ready):
        """The combinational half of a cycle: per output port, the wavelet transferred out this
        cycle (or ``None``), given the receivers' ready masks ``out_ready``. Changes no state;
        :meth:`commit` completes the cycle."""
        self._out_ready = list(out_ready)
        # requests[p] bit q: input p asks output q for its presented head.
        requests = [0] * NPORTS
        for p in PORTS:
            remaining = self._remaining(p)
            for q in PORTS:
                if q != p and (remaining >> q) & 1 and (out_ready[q] >> self.sel[p]) & 1:
                    requests[p] |= 1 << q
        self._requests = requests
        self._grants = [None] * NPORTS
        emitted = [None] * NPORTS
        for q in PORTS:
            sources = [p for p in PORTS if p != q]
            k = self.arbiters[q].grant([bool((requests[p] >> q) & 1) for p in sources])
            if k is not None:
                p = sources[k]
                self._grants[q] = p
                payload, control, _ = self.memory[p][self.raddr[p]]
                emitted[q] = Wavelet(self.sel[p], payload, control)
        return emitted

    def _accept_mask(self, port, wavelet):
        """The delivery mask stored with ``wavelet`` accepted on ``port``."""
        route = self.table[wavelet.color]
        return sum(1 << q for q in route.tx if q != port and _delivers(route, q, wavelet))

    def commit(self, offered):
        """The clock edge ending the cycle :meth:`emit` computed. ``offered``: per input port,
        the wavelet driven with ``valid`` or ``None``. Returns per input port whether it was
        taken."""
        out_ready = self._out_ready
        accepted = [False] * NPORTS
        for p in PORTS:
            w = offered[p]
            accepted[p] = w is not None and bool((self.ready(p) >> w.color) & 1)
        for q in PORTS:
            if self._grants[q] is not None:
                sources = [p for p in PORTS if p != q]
                self.arbiters[q].advance(sources.index(self._grants[q]))
        for p in PORTS:
            taken = sum(1 << q for q in PORTS if self._grants[q] == p)
            left = self._remaining(p) & ~taken
            sel, valid = self.sel[p], self.sel_valid[p]
            finished = valid and not left
            # Stalled: no owed output is ready for the color; contended (a ready owed output
            # went to another input) keeps the selection.
            contended = self._requests[p] & ~taken
            stalled = valid and not finished and not contended
            advance = not valid or finished or stalled
            # The arrival register writes its wavelet into the buffer at this edge.
            staged = self.stage[p]
            push = staged.color if staged is not None else None
            # The next selection, from the counts before this edge (as the RTL's registers).
            movable = [self._movable(p, c, self.ready_seen) for c in range(self.colors)]
            others = [c != sel and self.count[p][c] > 0 and movable[c]
                      for c in range(self.colors)]
            arrival = (push is not None and push != sel and self.count[p][push] == 0
                       and movable[push])
            # `sel` stays while it has a wavelet, movable or not (it catches one-cycle readies).
            keep_sel = self.count[p][sel] + (push == sel) - finished > 0
            if finished:
                self.count[p][sel] -= 1
                self.rd[p][sel] = (self.rd[p][sel] + 1) % self.slots
                self.sent[p][sel] = 0
            elif valid:
                self.sent[p][sel] |= taken
            if push is not None:
                w = staged
                self.memory[p][push * self.slots + self.wr[p][push]] = (
                    w.payload, w.control, self._accept_mask(p, w))
                self.wr[p][push] = (self.wr[p][push] + 1) % self.slots
                self.count[p][push] += 1
            if advance:
                # Round-robin after `sel` among the others; then a color arriving into an
                # empty buffer; `sel` itself last.
                pick = first_after(others, sel)
                if pick is not None:
                    self.sel[p], self.sel_valid[p] = pick, True
                elif arrival:
                    self.sel[p], self.sel_valid[p] = push, True
                else:
                    self.sel_valid[p] = keep_sel
            self.raddr[p] = self.sel[p] * self.slots + self.rd[p][self.sel[p]]
            self.stage[p] = offered[p] if accepted[p] else None
        self.ready_seen = list(out_ready)
        return accepted

    def _movable(self, p, c, out_ready):
        """Whether some output the head of (``p``, ``c``) still owes (its route's ``tx`` minus
        ``sent``, before this edge) is ready for ``c`` in ``out_ready`` (the previous cycle's
        ready masks): the RTL's cheap predictor of whether presenting ``c`` can move
        anything."""
        owed = self.table[c].tx_mask & ~self.sent[p][c]
        return any((owed >> q) & 1 and (out_ready[q] >> c) & 1 for q in PORTS)

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
        """Wavelets held: in the buffers and the arrival registers."""
        return (sum(sum(counts) for counts in self.count)
                + sum(w is not None for w in self.stage))


def simulate_router(model, senders, backpressure, max_cycles=10_000_000, until=None):
    """Run ``model`` with one :class:`~wafer_engine.fabric.model.traffic.LinkSender` per input until it drains.

    Returns ``(cycles, emitted)``: the cycle count and per output port a list of
    ``(cycle, Wavelet)``. Raises ``RuntimeError`` if traffic is still in flight after
    ``max_cycles`` (a route that never drains). ``until(emitted)``, if given, ends the run
    instead of draining (for traffic that is stalled on purpose).
    """
    emitted = [[] for _ in PORTS]
    cycle = 0

    def running():
        if until is not None:
            return not until(emitted)
        return any(s.pending for s in senders) or model.buffered

    while running():
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
