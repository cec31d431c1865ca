# amaranth: UnusedElaboratable=no
"""Formal harness for the router: link rules, buffer bounds, conservation and wavelet tracking.

:class:`RouterProps` instantiates a :class:`~wafer_engine.rtl.router.Router` with a fixed route table (the
config port is held idle), drives every input link and every output ``ready`` from free solver
variables, and checks in every cycle:

* link rules: an output is valid only for a color its receiver is ready for, that color is below
  ``colors`` and routes to that port, and RAMP only gets wavelets its range filter passes; an
  input is never ready for a color it does not receive;
* buffers: no FIFO level exceeds ``depth``, a full FIFO is never ready, a FIFO is written exactly
  when its link transfers a wavelet of its color, FIFOs off the route stay empty, and a ``sent``
  mask is clear when its FIFO is empty and names only tx ports;
* conservation: for every output ``q`` of color ``c`` and every source ``p``,
  ``delivered(q) + owed(p, q) == entered(p)`` (modulo the counter width), where ``owed`` is the
  FIFO level minus ``sent[q]`` (for a filtered RAMP: the buffered wavelets that pass the filter);
  the same summed over the sources of a merged color;
* tracking: for a solver-chosen ``N``, the ``N``-th wavelet of color ``c`` from source ``p`` that
  leaves port ``q`` is the ``N``-th that entered on ``p``, with the same payload and control bit
  (for a filtered RAMP: the ``N``-th that entered, if it passes, is the RAMP delivery numbered by
  its rank among the passing ones). As ``N`` is arbitrary this rules out drops, duplicates,
  reordering and corruption;
* lemmas: a FIFO head carries its source's tag and the filter verdict noted when it arrived, and
  the tracked wavelet is the head exactly when the wavelets that arrived after it fill the rest of
  the FIFO. They hold for a correct router and, being assertions, are proved as well; stating
  them saves the solver from rediscovering them at every step (several times faster).

Where a color merges several sources, the environment stamps the source port number into payload
bits 0..2, so outputs can be attributed to their source (per-source conservation and tracking).

With ``inductive=True`` only the properties that hold as k-inductive invariants without looking
into FIFO memories are kept (no tracking, no tags, no filtered-RAMP conservation), for sby's
``prove`` mode; the rest needs bounded model checking.
"""

# (The linter line above: the harness elaborates its Router itself, to reach the FIFOs, so
# Amaranth never marks the Router object as used.)

from types import SimpleNamespace

from amaranth.asserts import AnyConst, AnySeq
from amaranth.hdl import (Assert, Assume, Cat, Const, Elaboratable, Fragment, Module, ResetSignal,
                          Signal, Value)

from wafer_engine.rtl.ports import PORTS, Port
from wafer_engine.rtl.route import INDEX_MAX, Route
from wafer_engine.rtl.router import Router

__all__ = ["OPEN_ROUTES", "FILTERED_ROUTES", "MUTANTS", "TAG_BITS", "HiExclusiveRouter",
           "RouterProps"]

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
}

#: Payload bits that carry the source port of a merged color.
TAG_BITS = 3


class HiExclusiveRouter(Router):
    """Mutant router: the RAMP range filter treats ``hi`` as exclusive."""

    @staticmethod
    def _passes_filter(port, head, route):
        if port != Port.RAMP:
            return Const(1)
        index = head.payload[16:32]
        return head.control | ((route.lo <= index) & (index < route.hi))


def _assigned_signals(fragment):
    """Every signal assigned in ``fragment`` itself (not its subfragments), by name."""
    found = {}
    for statements in fragment.statements.values():
        for signal in statements._lhs_signals():
            found.setdefault(signal.name, signal)
    return found


def _filters(route):
    """Whether ``route``'s RAMP range filter can reject anything."""
    return not (route.lo == 0 and route.hi == INDEX_MAX)


def _passes(route, payload, control):
    """Whether a wavelet passes ``route``'s RAMP range filter (a Value, or constant 1)."""
    if not _filters(route):
        return Const(1)
    index = payload[16:32]
    return control | ((index >= route.lo) & (index <= route.hi))


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

    def __init__(self, routes=OPEN_ROUTES, *, colors=2, depth=2, inductive=False,
                 track_colors=None, strict_senders=True, allow_reset=True, count_bits=6,
                 mutant=None):
        if mutant is not None and mutant not in MUTANTS:
            raise ValueError(f"Mutant must be one of {', '.join(MUTANTS)}, not {mutant!r}")
        router_cls = HiExclusiveRouter if mutant == "hi_exclusive" else Router
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

        # Elaborate the router here to reach its FIFOs, `sent` masks and route table.
        core_module = router.elaborate(platform)
        core = Fragment.get(core_module, platform)
        internals = _assigned_signals(core)
        pc = [(p, c) for c in range(router.colors) for p in PORTS]
        s = SimpleNamespace(
            m=m, routes=router.routes,
            fifos={(p, c): core_module.submodules[f"vc_{p.name}_{c}"] for p, c in pc},
            sent={(p, c): internals[f"sent_{c}_{p.name}"] for p, c in pc},
            table=[internals[f"route_{c}"] for c in range(router.colors)],
        )

        self._environment(s)
        self._link_rules(s)
        self._buffer_rules(s)
        self._counters(s)
        if self.mutant == "bound":
            m.d.comb += Assert(s.n_out_all[Port.E, 0] < 2)
        for c in range(router.colors):
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
        s.xin, s.xout = {}, {}
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
            m.d.comb += Assert(Value.cast(s.table[c]) == Value.cast(route.as_entry()))
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
        """FIFO levels, writes and `sent` masks."""
        m, router = s.m, self.router
        for (p, c), fifo in s.fifos.items():
            route = s.routes[c]
            m.d.comb += [
                Assert(fifo.level <= router.depth),
                Assert((fifo.level != router.depth) | ~router.i[p].ready[c]),
                # Catches a FIFO written by an offer that was not a transfer.
                Assert((fifo.w_en & fifo.w_rdy) == s.xin[p, c]),
                Assert(fifo.r_rdy | (s.sent[p, c] == 0)),
                Assert((s.sent[p, c] & ~Const(route.tx_mask, len(PORTS))) == 0),
            ]
            if not (route.tx and p in route.rx):
                m.d.comb += Assert(fifo.level == 0)

    def _counter(self, m, name, inc):
        count = Signal(self.count_bits, name=name)
        m.d.sync += count.eq(count + inc)
        return count

    def _counters(self, s):
        """Wavelets entered per stream, delivered per output (and per source when tagged)."""
        m, router, depth = s.m, self.router, self.router.depth
        s.n_in, s.n_pass, s.n_out, s.n_out_all, s.buffered_pass = {}, {}, {}, {}, {}
        for c, route in enumerate(s.routes):
            for p in sorted(route.rx):
                link = router.i[p]
                s.n_in[p, c] = self._counter(m, f"n_in_{p.name}_{c}", s.xin[p, c])
                if _filters(route) and Port.RAMP in route.tx and not self.inductive:
                    passes = _passes(route, link.wavelet.payload.data, link.wavelet.control)
                    s.n_pass[p, c] = self._counter(m, f"n_pass_{p.name}_{c}", s.xin[p, c] & passes)
                    # A FIFO holds the newest `level` wavelets of its stream, so the filter
                    # verdicts of the last `depth` arrivals tell how many buffered ones pass.
                    recent = Signal(depth, name=f"recent_pass_{p.name}_{c}")
                    with m.If(s.xin[p, c]):
                        m.d.sync += recent.eq(Cat(passes, recent[:-1]))
                    fifo = s.fifos[p, c]
                    s.buffered_pass[p, c] = sum(recent[i] & (fifo.level > i) for i in range(depth))
                    # Lemma: the head's verdict is the one recorded when it arrived.
                    head = Value.cast(fifo.r_data)
                    verdict = _passes(route, head[:32], head[32])
                    for i in range(depth):
                        m.d.comb += Assert((fifo.level != i + 1) | (recent[i] == verdict))
            for q in sorted(route.tx):
                s.n_out_all[q, c] = self._counter(m, f"n_out_{q.name}_{c}", s.xout[q, c])
                for p in sorted(route.rx):
                    if len(route.rx) == 1:
                        s.n_out[q, c, p] = s.n_out_all[q, c]
                    elif self._tagged(route):
                        tag = router.o[q].wavelet.payload.data[:TAG_BITS]
                        s.n_out[q, c, p] = self._counter(m, f"n_out_{q.name}_{c}_from_{p.name}",
                                                         s.xout[q, c] & (tag == p))
            if self._tagged(route):
                # Lemma: a buffered head carries its source's tag.
                for p in sorted(route.rx):
                    fifo = s.fifos[p, c]
                    m.d.comb += Assert(~fifo.r_rdy | (fifo.r_data[:TAG_BITS] == p))

    def _conservation(self, s, c):
        """Every wavelet that entered is either delivered or still owed, per output."""
        m, route, width = s.m, s.routes[c], self.count_bits
        for q in sorted(route.tx):
            filtered = q == Port.RAMP and _filters(route)
            if filtered and self.inductive:
                # What RAMP is owed depends on the filter verdicts of wavelets in FIFO memory.
                continue

            def entered(p):
                return s.n_pass[p, c] if filtered else s.n_in[p, c]

            def owed(p):
                # `sent` marks a head this port already took (RAMP never takes a rejected one).
                buffered = s.buffered_pass[p, c] if filtered else s.fifos[p, c].level
                return buffered - s.sent[p, c][q]

            sources = sorted(route.rx)
            m.d.comb += Assert((sum(entered(p) for p in sources) - s.n_out_all[q, c])[:width]
                               == sum(owed(p) for p in sources)[:width])
            if self._tagged(route):
                for p in sources:
                    m.d.comb += Assert((entered(p) - s.n_out[q, c, p])[:width] == owed(p)[:width])

    def _tracking(self, s, seq, c, p):
        """The ``seq``-th wavelet of color ``c`` from ``p`` leaves every tx port unaltered."""
        m, route, link = s.m, s.routes[c], self.router.i[p]
        fifo, n_in = s.fifos[p, c], s.n_in[p, c]
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

        # Lemmas, true for a correct FIFO: they spare the solver from rediscovering at every
        # step where the tracked wavelet is. It is the FIFO head when exactly `after` wavelets
        # of its stream arrived after it and are still buffered behind it.
        after = Signal(self.count_bits, name=f"track_after_{name}")
        m.d.comb += [
            after.eq(n_in - 1 - seq),
            Assert(seen == (n_in > seq)),
            Assert(~seen | (after + 1 != fifo.level)
                   | (Value.cast(fifo.r_data) == Cat(payload, control))),
        ]

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
