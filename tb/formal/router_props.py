# amaranth: UnusedElaboratable=no
"""Formal harness for the router: link rules, buffer bounds, conservation and wavelet tracking.

:class:`RouterProps` instantiates a :class:`~wafer_engine.rtl.router.Router` with a fixed route table (the
config port is held idle), drives every input link and every output ``ready`` from free solver
variables, and checks in every cycle:

* link rules: an output is valid only for a color its receiver is ready for, that color is below
  ``colors`` and routes to that port, and RAMP only gets wavelets its range filter passes; an
  input is never ready for a color it does not receive; the route table and its per-arrival
  copy never change;
* arrival register: it holds a wavelet of color ``c`` exactly when its link transferred one of
  color ``c`` in the previous cycle (``push`` is the link transfer, one cycle late), and only
  colors below ``colors`` whose ``rx`` has the port;
* buffers: the count plus the staged wavelet never exceeds ``depth``, a color at its room is
  never ready, (input, color) pairs off the route stay empty, the slot pointers differ by the
  count, every buffered entry carries the delivery mask its route and range filter give it,
  ``sent`` is empty while nothing is buffered and names only outputs of the head's mask, a
  selected color has a head at the registered read address, and the registered copy of the
  selected color's ``sent`` agrees with it;
* conservation: for every output ``q`` of color ``c`` and every source ``p``,
  ``delivered(q) + owed(p, q) == entered(p)`` (modulo the counter width), where ``owed`` is the
  number of held wavelets whose mask names ``q`` (the buffered ones with their stored mask, the
  staged one with the mask its route and range filter give it) minus ``sent[q]`` of the head
  (for a filtered RAMP ``entered`` counts the wavelets that pass); the same summed over the
  sources of a merged color;
* tracking: for a solver-chosen ``N``, the ``N``-th wavelet of color ``c`` from source ``p`` that
  leaves port ``q`` is the ``N``-th that entered on ``p``, with the same payload and control bit
  (for a filtered RAMP: the ``N``-th that entered, if it passes, is the RAMP delivery numbered by
  its rank among the passing ones). As ``N`` is arbitrary this rules out drops, duplicates,
  reordering and corruption;
* lemmas: a held entry carries its source's tag, and the tracked wavelet is in the arrival
  register if it is the last of its stream to enter and the register holds its color, else in
  the buffer slot given by how many of its stream arrived after it and are still held. They
  hold for a correct router and, being assertions, are proved as well; stating them saves the
  solver from rediscovering them at every step.

The harness reads the buffer memories through read ports of its own (one per slot), added to
the router's memories before they are elaborated.

Where a color merges several sources, the environment stamps the source port number into payload
bits 0..2, so outputs can be attributed to their source (per-source conservation and tracking).

With ``inductive=True`` only the properties that hold as k-inductive invariants are kept (no
tracking, no tags), for sby's ``prove`` mode; the rest needs bounded model checking.
"""

# (The linter line above: the harness elaborates its Router itself, to reach its memories, so
# Amaranth never marks the Router object as used.)

from types import SimpleNamespace

from amaranth.asserts import AnyConst, AnySeq
from amaranth.hdl import (Array, Assert, Assume, Cat, Const, Elaboratable, Fragment, Module,
                          ResetSignal, Signal, Value)

from wafer_engine.rtl.ports import PORTS, Port
from wafer_engine.rtl.route import INDEX_MAX, Route
from wafer_engine.rtl.router import Router, slots_per_color
from wafer_engine.tb.formal.harness import assigned_signals, event_counter

__all__ = ["OPEN_ROUTES", "FILTERED_ROUTES", "MUTANTS", "TAG_BITS", "HiExclusiveRouter",
           "ForgetfulRouter", "StageBlindRouter", "UngatedArrivalRouter", "RouterProps"]

#: Color 0 multicasts N to E, S and RAMP (filter open); color 1 merges W and S into N (each
#: source on its own is a unicast path).
OPEN_ROUTES = {
    0: Route(rx={Port.N}, tx={Port.E, Port.S, Port.RAMP}),
    1: Route(rx={Port.W, Port.S}, tx={Port.N}),
}

#: As :data:`OPEN_ROUTES`, but RAMP only gets color-0 data wavelets with index 0x0100..0x01FF.
FILTERED_ROUTES = {
    0: Route(rx={Port.N}, tx={Port.E, Port.S, Port.RAMP}, lo=0x0100, hi=0x01FF),
    1: Route(rx={Port.W, Port.S}, tx={Port.N}),
}

#: Deliberate faults; each must make a proof fail, which shows the checks are not vacuous.
MUTANTS = {
    "bound": "false claim: port E never delivers a second color-0 wavelet",
    "drop": "the second color-0 wavelet leaving E is lost on its way to the checker",
    "corrupt_E": "payload bit 5 of every wavelet leaving E is flipped on its way to the checker",
    "corrupt_N": "payload bit 5 of every wavelet leaving N is flipped on its way to the checker",
    "corrupt_RAMP": "payload bit 5 of every wavelet leaving RAMP is flipped on its way to the "
                    "checker",
    "hi_exclusive": "router whose RAMP range filter rejects index == hi (off by one)",
    "forget_sent": "router that never records which outputs took a head (multicast duplicates)",
    "stage_blind": "router whose ready ignores the wavelet in the arrival register (a color's "
                   "room is overrun)",
    "ungated_arrival": "router whose arrival register takes every offered wavelet, ready or not "
                       "(needs strict_senders=False: strict senders offer only ready colors)",
}

#: Payload bits that carry the source port of a merged color.
TAG_BITS = 3


class HiExclusiveRouter(Router):
    """Mutant router: the RAMP range filter treats ``hi`` as exclusive."""

    @staticmethod
    def _passes_filter(index, control, lo, hi):
        return control | ((lo <= index) & (index < hi))


class ForgetfulRouter(Router):
    """Mutant router: outputs that took a multicast head are not recorded in ``sent``."""

    @staticmethod
    def _record_taken(sent, taken):
        return sent


class StageBlindRouter(Router):
    """Mutant router: ``ready`` counts the buffered wavelets only, as before the arrival
    register, so a color with one slot left takes a second wavelet while the first is staged."""

    def _input(self, m, p, table, arrival, slots):
        s = super()._input(m, p, table, arrival, slots)
        # The later assignment in the same module replaces the router's own `ready`.
        m.d.comb += self.i[p].ready.eq(Cat(
            table[c].rx[p] & table[c].tx.any() & (s.count[c] != self.depth)
            for c in range(self.colors)))
        return s


class UngatedArrivalRouter(Router):
    """Mutant router: the arrival register is loaded by every offer, not only by a transfer,
    so a wavelet the link never transferred (the sender still holds it) enters the buffer."""

    def _input(self, m, p, table, arrival, slots):
        s = super()._input(m, p, table, arrival, slots)
        link = self.i[p]
        # Later assignments in the same module replace the router's own, gated ones.
        m.d.sync += s.stage_valid.eq(link.valid)
        with m.If(link.valid):
            m.d.sync += s.stage.eq(link.wavelet)
        return s


def _filters(route):
    """Whether ``route``'s RAMP range filter can reject anything."""
    return not (route.lo == 0 and route.hi == INDEX_MAX)


def _passes(route, payload, control):
    """Whether a wavelet passes ``route``'s RAMP range filter (a Value, or constant 1)."""
    if not _filters(route):
        return Const(1)
    index = payload[16:32]
    return control | ((index >= route.lo) & (index <= route.hi))


def _mask(route, port, payload, control):
    """The delivery mask a correct router stores for a wavelet entering on ``port``."""
    mask = route.tx_mask & ~(1 << port)
    if Port.RAMP in route.tx and _filters(route):
        keep = Cat([Const(1)] * Port.RAMP, _passes(route, payload, control))
        return Const(mask, len(PORTS)) & keep
    return Const(mask, len(PORTS))


class RouterProps(Elaboratable):
    """The router under free inputs and backpressure, with assertions on its behaviour.

    Parameters:
        routes: fixed route table, ``{color: Route}``.
        colors, depth: router size.
        inductive: keep only the k-inductive properties (for ``prove`` mode).
        track_colors: colors whose wavelets are tracked (default: all; ignored if inductive).
        strict_senders: assume senders assert ``valid`` only for a color whose ready bit is set.
        allow_reset: let the solver reset the router (and the checker) in any cycle.
        count_bits: width of the modular wavelet counters and of ``N``; tracking is exact for
            bounded runs shorter than ``2 ** count_bits`` cycles.
        mutant: ``None`` or a key of :data:`MUTANTS`.
    """

    def __new__(cls, *args, mutant=None, **kwargs):
        # Checked before the harness exists, so a rejected one is not reported as an
        # elaboratable created and never used.
        if mutant is not None and mutant not in MUTANTS:
            raise ValueError(f"Mutant must be one of {', '.join(MUTANTS)}, not {mutant!r}")
        return super().__new__(cls)

    def __init__(self, routes=OPEN_ROUTES, *, colors=2, depth=2, inductive=False,
                 track_colors=None, strict_senders=True, allow_reset=True, count_bits=6,
                 mutant=None):
        router_cls = {"hi_exclusive": HiExclusiveRouter,
                      "forget_sent": ForgetfulRouter,
                      "stage_blind": StageBlindRouter,
                      "ungated_arrival": UngatedArrivalRouter}.get(mutant, Router)
        self.router = router_cls(colors=colors, depth=depth, routes=routes)
        self.inductive = inductive
        self.track_colors = tuple(range(colors) if track_colors is None else track_colors)
        self.strict_senders = strict_senders
        self.allow_reset = allow_reset
        self.count_bits = count_bits
        self.mutant = mutant

    def elaborate(self, platform):
        router = self.router
        m = Module()
        colors, slots = router.colors, slots_per_color(router.depth)

        # Elaborate the router here to reach its memories and state registers; the harness's
        # own read ports must exist before the memories are elaborated.
        core_module = router.elaborate(platform)
        entries, arrival_entries = {}, {}
        for p in PORTS:
            buffer = core_module.submodules[f"buffer_{p.name}"]
            for c in range(colors):
                for slot in range(slots):
                    read = buffer.read_port(domain="comb")
                    m.d.comb += read.addr.eq(c * slots + slot)
                    entries[p, c, slot] = read.data
        arrival = core_module.submodules["arrival_routes"]
        for c in range(colors):
            read = arrival.read_port(domain="comb")
            m.d.comb += read.addr.eq(c)
            arrival_entries[c] = read.data
        core = Fragment.get(core_module, platform)
        internals = assigned_signals(core)
        pc = [(p, c) for c in range(colors) for p in PORTS]
        s = SimpleNamespace(
            m=m, routes=router.routes, slots=slots,
            count={(p, c): internals[f"count_{p.name}_{c}"] for p, c in pc},
            rd={(p, c): internals[f"rd_{p.name}_{c}"] for p, c in pc},
            wr={(p, c): internals[f"wr_{p.name}_{c}"] for p, c in pc},
            push={(p, c): internals[f"push_{p.name}_{c}"] for p, c in pc},
            stage_valid={p: internals[f"stage_valid_{p.name}"] for p in PORTS},
            # The arrival register, seen through the wavelet layout.
            stage={p: router.i[p].wavelet.shape()(internals[f"stage_{p.name}"])
                   for p in PORTS},
            sent={(p, c): internals[f"sent_{p.name}_{c}"] for p, c in pc},
            sel={p: internals[f"sel_{p.name}"] for p in PORTS},
            sel_valid={p: internals[f"sel_valid_{p.name}"] for p in PORTS},
            sel_sent={p: internals[f"sel_sent_{p.name}"] for p in PORTS},
            raddr={p: internals[f"raddr_{p.name}"] for p in PORTS},
            table=[internals[f"route_{c}"] for c in range(colors)],
            arrival=arrival_entries,
        )
        # at(p, c, i): the i-th buffered entry of (p, c), counted from the head.
        s.at = {}
        for p, c in pc:
            for i in range(router.depth):
                slot = (s.rd[p, c] + i)[:max(0, (slots - 1).bit_length())]
                s.at[p, c, i] = (Array(entries[p, c, k] for k in range(slots))[slot]
                                 if slots > 1 else entries[p, c, 0])

        self._environment(s)
        self._link_rules(s)
        self._buffer_rules(s)
        self._counters(s)
        if self.mutant == "bound":
            m.d.comb += Assert(s.n_out_all[Port.E, 0] < 2)
        for c in range(colors):
            self._conservation(s, c)
        if not self.inductive:
            # One solver-chosen sequence number serves every stream: each is still checked for
            # every N, and sharing it keeps the state small.
            seq = AnyConst(self.count_bits)
            for c in self.track_colors:
                for p in sorted(s.routes[c].rx):
                    self._tracking(s, seq, c, p)

        top = Fragment.get(m, platform)
        top.add_subfragment(core, "router")
        return top

    def _tagged(self, route):
        """Whether outputs of ``route`` are attributed to sources by payload tag."""
        return len(route.rx) > 1 and not self.inductive

    def _environment(self, s):
        """Idle config port, free inputs, free backpressure; transfer strobes xin/xout."""
        m, router = s.m, self.router
        m.d.comb += router.cfg.valid.eq(0)
        if not self.allow_reset:
            m.d.comb += Assume(~ResetSignal())
        s.xin, s.xin_before, s.xout = {}, {}, {}
        for p in PORTS:
            link = router.i[p]
            m.d.comb += [
                link.valid.eq(AnySeq(1)),
                link.wavelet.eq(AnySeq(len(Value.cast(link.wavelet)))),
                router.o[p].ready.eq(AnySeq(router.colors)),
            ]
            if self.strict_senders:
                m.d.comb += Assume(~link.valid | link.ready.bit_select(link.wavelet.color, 1))
            for c in range(router.colors):
                xin = s.xin[p, c] = Signal(name=f"xin_{p.name}_{c}")
                m.d.comb += xin.eq(link.valid & link.ready[c] & (link.wavelet.color == c))
                # The transfer one cycle late: what the arrival register must hold now.
                xin_before = s.xin_before[p, c] = Signal(name=f"xin_before_{p.name}_{c}")
                m.d.sync += xin_before.eq(xin)
                if self._tagged(s.routes[c]) and p in s.routes[c].rx:
                    m.d.comb += Assume(~xin | (link.wavelet.payload.data[:TAG_BITS] == p))
        for q in PORTS:
            link = router.o[q]
            for c in range(router.colors):
                xout = s.xout[q, c] = Signal(name=f"xout_{q.name}_{c}")
                m.d.comb += xout.eq(link.valid & link.ready.bit_select(link.wavelet.color, 1)
                                    & (link.wavelet.color == c))
        if self.mutant == "drop":
            # The checker no longer sees the second color-0 wavelet leaving E.
            raw = Signal(self.count_bits)
            m.d.sync += raw.eq(raw + s.xout[Port.E, 0])
            seen = Signal(name="xout_E_0_mutant")
            m.d.comb += seen.eq(s.xout[Port.E, 0] & (raw != 1))
            s.xout[Port.E, 0] = seen
        # The payload each output shows the checker.
        s.payload = {q: router.o[q].wavelet.payload.data for q in PORTS}
        for q in PORTS:
            if self.mutant == f"corrupt_{q.name}":
                s.payload[q] = s.payload[q] ^ (1 << 5)

    def _link_rules(self, s):
        """What the router shows on its links: valid/ready, colors, routes, the RAMP filter."""
        m, router, routes = s.m, self.router, s.routes
        for c, route in enumerate(routes):
            m.d.comb += [
                Assert(Value.cast(s.table[c]) == Value.cast(route.as_entry())),
                Assert(s.arrival[c].tx == route.tx_mask),
                Assert(s.arrival[c].lo == route.lo),
                Assert(s.arrival[c].hi == route.hi),
            ]
        for q in PORTS:
            link = router.o[q]
            color = link.wavelet.color
            routed = Const(0)
            for c, route in enumerate(routes):
                if q in route.tx:
                    routed = routed | (color == c)
            m.d.comb += [
                Assert(~link.valid | link.ready.bit_select(color, 1)),
                Assert(~link.valid | (color < router.colors)),
                Assert(~link.valid | routed),
            ]
        ramp = router.o[Port.RAMP]
        for c, route in enumerate(routes):
            m.d.comb += Assert(~s.xout[Port.RAMP, c]
                               | _passes(route, ramp.wavelet.payload.data, ramp.wavelet.control))
            for p in PORTS:
                if not (route.tx and p in route.rx):
                    m.d.comb += Assert(~router.i[p].ready[c])

    def _buffer_rules(self, s):
        """Counts, slot pointers, stored delivery masks, `sent`, and the selection."""
        m, router, slots = s.m, self.router, s.slots
        for p in PORTS:
            # The arrival register holds only a color below `colors` (push would miss it).
            m.d.comb += Assert(~s.stage_valid[p] | (s.stage[p].color < router.colors))
        for (p, c), count in s.count.items():
            route = s.routes[c]
            push = s.push[p, c]
            # Wavelets of (p, c) held: buffered, and the one in the arrival register.
            held = count + push
            m.d.comb += [
                Assert(held <= router.depth),
                Assert((held != router.depth) | ~router.i[p].ready[c]),
                # The arrival register holds what the link transferred in the previous cycle;
                # catches a register loaded by an offer that was not a transfer.
                Assert(push == s.xin_before[p, c]),
                Assert(((s.wr[p, c] - s.rd[p, c] - count) % slots) == 0),
                Assert((count != 0) | (s.sent[p, c] == 0)),
                Assert((s.sent[p, c] & ~s.at[p, c, 0].mask) == 0),
            ]
            if not (route.tx and p in route.rx):
                m.d.comb += [Assert(count == 0), Assert(~push)]
            elif self._tagged(route):
                # Lemma: the staged wavelet carries its source's tag.
                m.d.comb += Assert(~push | (s.stage[p].payload.data[:TAG_BITS] == p))
            for i in range(router.depth):
                entry = s.at[p, c, i]
                expected = _mask(route, p, entry.payload, entry.control)
                m.d.comb += Assert((count <= i) | (entry.mask == expected))
                if self._tagged(route) and p in route.rx:
                    # Lemma: a buffered entry carries its source's tag.
                    m.d.comb += Assert((count <= i) | (entry.payload[:TAG_BITS] == p))
        for p in PORTS:
            sel, valid = s.sel[p], s.sel_valid[p]
            m.d.comb += Assert(~valid | (sel < router.colors))
            for c in range(router.colors):
                address = c * slots + s.rd[p, c]
                m.d.comb += [
                    Assert(~valid | (sel != c)
                           | ((s.count[p, c] != 0) & (s.raddr[p] == address))),
                    # The registered copy of the selected color's `sent`.
                    Assert((sel != c) | (s.sel_sent[p] == s.sent[p, c])),
                ]

    def _counter(self, m, name, inc):
        return event_counter(m, name, inc, self.count_bits)

    def _counters(self, s):
        """Wavelets entered per stream, delivered per output (and per source when tagged)."""
        m, router = s.m, self.router
        s.n_in, s.n_pass, s.n_out, s.n_out_all = {}, {}, {}, {}
        for c, route in enumerate(s.routes):
            for p in sorted(route.rx):
                link = router.i[p]
                s.n_in[p, c] = self._counter(m, f"n_in_{p.name}_{c}", s.xin[p, c])
                if _filters(route) and Port.RAMP in route.tx:
                    passes = _passes(route, link.wavelet.payload.data, link.wavelet.control)
                    s.n_pass[p, c] = self._counter(m, f"n_pass_{p.name}_{c}", s.xin[p, c] & passes)
            for q in sorted(route.tx):
                s.n_out_all[q, c] = self._counter(m, f"n_out_{q.name}_{c}", s.xout[q, c])
                for p in sorted(route.rx):
                    if len(route.rx) == 1:
                        s.n_out[q, c, p] = s.n_out_all[q, c]
                    elif self._tagged(route):
                        tag = router.o[q].wavelet.payload.data[:TAG_BITS]
                        s.n_out[q, c, p] = self._counter(m, f"n_out_{q.name}_{c}_from_{p.name}",
                                                         s.xout[q, c] & (tag == p))

    def _conservation(self, s, c):
        """Every wavelet that entered is either delivered or still owed, per output."""
        m, route, width = s.m, s.routes[c], self.count_bits
        for q in sorted(route.tx):
            filtered = q == Port.RAMP and _filters(route)

            def entered(p):
                return s.n_pass[p, c] if filtered else s.n_in[p, c]

            def owed(p):
                # Held wavelets whose mask names q, minus the head if q already took it. The
                # staged wavelet's mask is the one the router stores for it at the next edge.
                count = s.count[p, c]
                buffered = sum((count > i) & s.at[p, c, i].mask[q]
                               for i in range(self.router.depth))
                stage = s.stage[p]
                staged = s.push[p, c] & _mask(route, p, stage.payload.data, stage.control)[q]
                return buffered + staged - s.sent[p, c][q]

            sources = sorted(route.rx)
            m.d.comb += Assert((sum(entered(p) for p in sources) - s.n_out_all[q, c])[:width]
                               == sum(owed(p) for p in sources)[:width])
            if self._tagged(route):
                for p in sources:
                    m.d.comb += Assert((entered(p) - s.n_out[q, c, p])[:width] == owed(p)[:width])

    def _tracking(self, s, seq, c, p):
        """The ``seq``-th wavelet of color ``c`` from ``p`` leaves every tx port unaltered."""
        m, route, link = s.m, s.routes[c], self.router.i[p]
        n_in, count = s.n_in[p, c], s.count[p, c]
        filtered = _filters(route) and Port.RAMP in route.tx
        name = f"{p.name}_{c}"
        seen = Signal(name=f"track_seen_{name}")
        payload = Signal(32, name=f"track_payload_{name}")
        control = Signal(name=f"track_control_{name}")
        passes = Signal(name=f"track_passes_{name}")
        ramp_rank = Signal(self.count_bits, name=f"track_ramp_rank_{name}")
        with m.If(s.xin[p, c] & (n_in == seq)):
            m.d.sync += [
                seen.eq(1),
                payload.eq(link.wavelet.payload.data),
                control.eq(link.wavelet.control),
                passes.eq(_passes(route, link.wavelet.payload.data, link.wavelet.control)),
                ramp_rank.eq(s.n_pass[p, c] if filtered else n_in),
            ]

        # Lemmas, true for a correct router: they spare the solver from rediscovering at every
        # step where the tracked wavelet is. With `after` wavelets of its stream behind it, it
        # is in the arrival register if `after == 0` and the register holds its color; else,
        # with `count` buffered and `push` staged, the (count + push - 1 - after)-th from the
        # head of the buffer.
        push, stage = s.push[p, c], s.stage[p]
        after = Signal(self.count_bits, name=f"track_after_{name}")
        m.d.comb += [
            after.eq(n_in - 1 - seq),
            Assert(seen == (n_in > seq)),
            Assert(~seen | (after != 0) | ~push
                   | (Cat(stage.payload, stage.control) == Cat(payload, control))),
        ]
        for i in range(self.router.depth):
            entry = s.at[p, c, i]
            m.d.comb += Assert(~seen | (after + 1 + i != count + push) | (count <= i)
                               | (Cat(entry.payload, entry.control) == Cat(payload, control)))

        for q in sorted(route.tx):
            out = self.router.o[q]
            got = s.xout[q, c]
            if len(route.rx) > 1:
                got = got & (out.wavelet.payload.data[:TAG_BITS] == p)
            if q == Port.RAMP and filtered:
                # A rejected tracked wavelet has no RAMP rank; extra or missing RAMP
                # deliveries are caught by conservation.
                check = got & seen & passes & (s.n_out[q, c, p] == ramp_rank)
            else:
                check = got & (s.n_out[q, c, p] == seq)
            with m.If(check):
                m.d.comb += [
                    Assert(seen),
                    Assert(s.payload[q] == payload),
                    Assert(out.wavelet.control == control),
                ]
