"""Formal harness for the router: link rules, buffer bounds, conservation and wavelet tracking.

:class:`RouterProps` instantiates a :class:`~rtl.router.Router` with a fixed route table (the
config port is held idle), drives every input link and every output ``ready`` from free solver
variables, and checks in every cycle:

* link rules: an output is valid only for a color its receiver is ready for, that color is below
  ``colors`` and routes to that port; an input is never ready for a color it does not receive;
* buffers: no FIFO level exceeds ``depth``, a full FIFO is never ready, a FIFO is written exactly
  when its link transfers a wavelet of its color, and FIFOs off the route stay empty;
* conservation: for every output ``q`` of a color and every source ``p``,
  ``out[q] + (level(p, c) - sent(p, c)[q]) == in[p]`` (modulo the counter width), plus the same
  summed over sources, which holds without tags and so is fit for k-induction;
* tracking (bounded proofs only): for a solver-chosen ``N``, the ``N``-th wavelet of color ``c``
  from source ``p`` leaving port ``q`` is the ``N``-th that entered on ``p`` (the ``N``-th that
  passes the RAMP range filter, for ``q == RAMP``) with the same payload and control bit. As ``N``
  is arbitrary this rules out drops, duplicates, reordering and corruption.

Where a color merges several sources, inputs carry the source port number in payload bits 0..2
(an assumption on the environment), so outputs can be attributed to their source.
"""

from amaranth.asserts import AnyConst, AnySeq
from amaranth.hdl import (Assert, Assume, Const, Elaboratable, Fragment, Module, ResetSignal, Signal,
                          Value)

from rtl.ports import PORTS, Port
from rtl.route import INDEX_MAX, Route
from rtl.router import Router

__all__ = ["OPEN_ROUTES", "FILTERED_ROUTES", "MUTANTS", "HiExclusiveRouter", "RouterProps"]

#: Color 0 is a multicast from N to E, S and RAMP; color 1 merges W and S into N (each source on
#: its own is a unicast path).
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
    "drop": "the second color-0 wavelet leaving E is lost on the way to the checker",
    "hi_exclusive": "router whose RAMP filter rejects index == hi (off by one)",
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


def _passes(route, wavelet):
    """Whether ``wavelet`` (an input link's wavelet) passes ``route``'s RAMP range filter."""
    if route.lo == 0 and route.hi == INDEX_MAX:
        return Const(1)
    index = wavelet.payload.half.index
    return wavelet.control | ((index >= route.lo) & (index <= route.hi))


class RouterProps(Elaboratable):
    """The router under free inputs and backpressure, with assertions on its behaviour.

    Parameters:
        routes: fixed route table, ``{color: Route}``.
        colors, depth: router size.
        track: add the tracking properties (bounded proofs; they are not k-inductive).
        tags: add the per-source conservation properties of merged colors (they rely on the
            payload tag, which the router stores in its FIFO memory, so they are not k-inductive).
        strict_senders: assume senders assert ``valid`` only for a color whose ready bit is set.
        allow_reset: let the solver reset the router (and the checker) at any cycle.
        count_bits: width of the wavelet counters (modular) and of ``N``.
        mutant: ``None`` or a key of :data:`MUTANTS`.
    """

    def __init__(self, routes=OPEN_ROUTES, *, colors=2, depth=2, track=True, tags=True,
                 strict_senders=True, allow_reset=True, count_bits=6, mutant=None):
        if mutant is not None and mutant not in MUTANTS:
            raise ValueError(f"Mutant must be one of {', '.join(MUTANTS)}, not {mutant!r}")
        router_cls = HiExclusiveRouter if mutant == "hi_exclusive" else Router
        self.router = router_cls(colors=colors, depth=depth, routes=routes)
        self.track = track
        self.tags = tags
        self.strict_senders = strict_senders
        self.allow_reset = allow_reset
        self.count_bits = count_bits
        self.mutant = mutant

    def elaborate(self, platform):
        router = self.router
        colors, depth, width = router.colors, router.depth, self.count_bits
        routes = router.routes
        m = Module()

        # Elaborate the router here to reach its FIFOs and its per-buffer `sent` masks.
        core_module = router.elaborate(platform)
        fifos = {(p, c): core_module.submodules[f"vc_{p.name}_{c}"]
                 for c in range(colors) for p in PORTS}
        core = Fragment.get(core_module, platform)
        internals = _assigned_signals(core)
        sent = {(p, c): internals[f"sent_{c}_{p.name}"] for c in range(colors) for p in PORTS}
        table = [internals[f"route_{c}"] for c in range(colors)]

        # Environment: idle config port, free inputs and free backpressure.
        m.d.comb += router.cfg.valid.eq(0)
        if not self.allow_reset:
            m.d.comb += Assume(~ResetSignal())
        for p in PORTS:
            link = router.i[p]
            m.d.comb += [
                link.valid.eq(AnySeq(1)),
                link.wavelet.eq(AnySeq(len(Value.cast(link.wavelet)))),
                router.o[p].ready.eq(AnySeq(colors)),
            ]
            if self.strict_senders:
                m.d.comb += Assume(~link.valid | link.ready.bit_select(link.wavelet.color, 1))

        xin = {(p, c): Signal(name=f"xin_{p.name}_{c}") for c in range(colors) for p in PORTS}
        for (p, c), sig in xin.items():
            link = router.i[p]
            m.d.comb += sig.eq(link.valid & link.ready[c] & (link.wavelet.color == c))
            if self.tags and len(routes[c].rx) > 1 and p in routes[c].rx:
                # Merged color: the sender stamps its port number into the payload.
                m.d.comb += Assume(~sig | (link.wavelet.payload.data[:TAG_BITS] == p))

        # What the checker sees of each output; the "drop" mutant hides one wavelet here.
        xout = {}
        for q in PORTS:
            link = router.o[q]
            for c in range(colors):
                xout[q, c] = Signal(name=f"xout_{q.name}_{c}")
                m.d.comb += xout[q, c].eq(link.valid & link.ready.bit_select(link.wavelet.color, 1)
                                          & (link.wavelet.color == c))
        if self.mutant == "drop":
            raw = Signal(width)
            m.d.sync += raw.eq(raw + xout[Port.E, 0])
            hidden = Signal(name=f"xout_{Port.E.name}_0_seen")
            m.d.comb += hidden.eq(xout[Port.E, 0] & (raw != 1))
            xout[Port.E, 0] = hidden

        # Link rules and route-table stability.
        for c in range(colors):
            m.d.comb += Assert(Value.cast(table[c]) == Value.cast(routes[c].as_entry()))
        for q in PORTS:
            link = router.o[q]
            color = link.wavelet.color
            tx_ok = Const(0)
            for c in range(colors):
                if q in routes[c].tx:
                    tx_ok = tx_ok | (color == c)
            m.d.comb += [
                Assert(~link.valid | link.ready.bit_select(color, 1)),
                Assert(~link.valid | (color < colors)),
                Assert(~link.valid | tx_ok),
            ]
        for c in range(colors):
            on_route = bool(routes[c].tx)
            for p in PORTS:
                if not (on_route and p in routes[c].rx):
                    m.d.comb += [
                        Assert(~router.i[p].ready[c]),
                        Assert(fifos[p, c].level == 0),
                    ]

        # Buffers: bounded, full means not ready, written exactly on a transfer.
        tx_mask = [routes[c].tx_mask for c in range(colors)]
        for (p, c), fifo in fifos.items():
            m.d.comb += [
                Assert(fifo.level <= depth),
                Assert((fifo.level != depth) | ~router.i[p].ready[c]),
                Assert((fifo.w_en & fifo.w_rdy) == xin[p, c]),
                Assert(fifo.r_rdy | (sent[p, c] == 0)),
                Assert((sent[p, c] & ~Const(tx_mask[c], 5)) == 0),
            ]

        if self.mutant == "bound":
            count = Signal(width)
            m.d.sync += count.eq(count + xout[Port.E, 0])
            m.d.comb += Assert(count < 2)

        for c in range(colors):
            self._conservation(m, c, routes[c], xin, xout, fifos, sent)
        if self.track:
            seq = AnyConst(width)
            for c in range(colors):
                for p in sorted(routes[c].rx):
                    self._tracking(m, seq, c, p, routes[c], xout)

        top = Fragment.get(m, platform)
        top.add_subfragment(core, "router")
        return top

    def _counter(self, m, name, inc):
        count = Signal(self.count_bits, name=name)
        m.d.sync += count.eq(count + inc)
        return count

    def _from(self, q, p, route):
        """Whether the wavelet on output ``q`` is attributed to source ``p``."""
        if len(route.rx) == 1:
            return Const(1)
        return self.router.o[q].wavelet.payload.data[:TAG_BITS] == p

    def _conservation(self, m, c, route, xin, xout, fifos, sent):
        """Every wavelet that entered is either delivered or still buffered, per output."""
        width = self.count_bits
        for q in sorted(route.tx):
            filtered = q == Port.RAMP and not (route.lo == 0 and route.hi == INDEX_MAX)
            # Summed over sources: needs no tags, so it also serves the k-induction proof.
            ins, buffered = 0, 0
            for p in sorted(route.rx):
                ins = ins + self._counter(m, f"in_{p.name}_{c}_to_{q.name}",
                                          xin[p, c] & _passes(route, self.router.i[p].wavelet)
                                          if filtered else xin[p, c])
                buffered = buffered + fifos[p, c].level - sent[p, c][q]
            out = self._counter(m, f"out_{q.name}_{c}", xout[q, c])
            if filtered:
                # Filtered wavelets stay in the FIFO until the other ports took them, so the
                # buffer only bounds what RAMP still owes.
                m.d.comb += Assert((ins - out)[:width] <= buffered)
            else:
                m.d.comb += Assert((ins - out)[:width] == buffered[:width])
            if len(route.rx) == 1 or not self.tags:
                continue
            for p in sorted(route.rx):
                ins = self._counter(m, f"in_{p.name}_{c}_by_{q.name}", xin[p, c])
                out = self._counter(m, f"out_{q.name}_{c}_from_{p.name}",
                                    xout[q, c] & self._from(q, p, route))
                m.d.comb += Assert((ins - out)[:width]
                                   == (fifos[p, c].level - sent[p, c][q])[:width])

    def _tracking(self, m, seq, c, p, route, xout):
        """The ``seq``-th wavelet of color ``c`` from ``p`` leaves every tx port unaltered."""
        width = self.count_bits
        link = self.router.i[p]
        streams = {}
        for q in sorted(route.tx):
            filtered = q == Port.RAMP and not (route.lo == 0 and route.hi == INDEX_MAX)
            if filtered not in streams:
                # Record the seq-th wavelet of this input stream (all, or those RAMP may get).
                take = Signal(name=f"take_{p.name}_{c}_{'ramp' if filtered else 'all'}")
                m.d.comb += take.eq(link.valid & link.ready[c] & (link.wavelet.color == c)
                                    & (_passes(route, link.wavelet) if filtered else 1))
                index = Signal(width, name=f"tin_{p.name}_{c}_{int(filtered)}")
                seen = Signal(name=f"tseen_{p.name}_{c}_{int(filtered)}")
                payload = Signal(32, name=f"tpayload_{p.name}_{c}_{int(filtered)}")
                control = Signal(name=f"tcontrol_{p.name}_{c}_{int(filtered)}")
                with m.If(take):
                    m.d.sync += index.eq(index + 1)
                    with m.If((index == seq) & ~seen):
                        m.d.sync += [
                            seen.eq(1),
                            payload.eq(link.wavelet.payload.data),
                            control.eq(link.wavelet.control),
                        ]
                streams[filtered] = (seen, payload, control)
            seen, payload, control = streams[filtered]

            out = self.router.o[q]
            got = xout[q, c] & self._from(q, p, route)
            index = Signal(width, name=f"tout_{q.name}_{c}_from_{p.name}")
            with m.If(got):
                m.d.sync += index.eq(index + 1)
                with m.If(index == seq):
                    m.d.comb += [
                        Assert(seen),
                        Assert(out.wavelet.payload.data == payload),
                        Assert(out.wavelet.control == control),
                    ]
