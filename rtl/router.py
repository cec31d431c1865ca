"""The mesh router: five ports, per-color virtual channels, static multicast routes."""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from wafer_engine.rtl.arbiter import RoundRobin, first_after, one_hot_index
from wafer_engine.rtl.ports import PORTS, Port
from wafer_engine.rtl.route import RouteConfigSignature, RouteEntry, check_routes
from wafer_engine.rtl.params import check_depth
from wafer_engine.rtl.wavelet import LinkSignature, check_colors

__all__ = ["Router", "BufferEntry", "ArrivalRoute", "slots_per_color", "HOP_CYCLES"]

#: Cycles from the edge a router takes a wavelet to the edge it leaves, at zero load: one in
#: the arrival register, one in the buffer.
HOP_CYCLES = 2


class BufferEntry(data.Struct):
    """What an input buffer stores per wavelet: the color is implied by the address.

    ``mask`` is the set of outputs the wavelet goes to, fixed when it is accepted: the color's
    ``tx`` ports, minus RAMP when the range filter rejects it.
    """
    payload: 32
    control: 1
    mask: 5


class ArrivalRoute(data.Struct):
    """The part of a color's route an input needs when a wavelet of that color arrives: the
    ``tx`` ports and the RAMP range filter bounds (inclusive), to compute its delivery mask."""
    tx: 5
    lo: 16
    hi: 16


def slots_per_color(depth):
    """Buffer slots reserved per color: ``depth`` rounded up to a power of two."""
    return 1 << (depth - 1).bit_length()


class Router(wiring.Component):
    """A 5-port mesh router with one buffer memory per input port, shared by the colors.

    Input port ``p`` keeps up to ``depth`` wavelets per color: one arrival register, where
    every wavelet taken from the link spends one cycle, and one buffer memory (address
    ``{color, slot}``). A wavelet of color ``c`` is accepted on port ``p`` when ``p`` is in
    ``rx[c]``, ``tx[c]`` is not empty and ``p`` holds fewer than ``depth`` wavelets of ``c``
    (the arrival register included); ``i[p].ready`` depends on registers only. Each cycle
    every input presents the head of one selected color to the outputs; each output picks
    among the four other inputs whose presented head wants it and whose color its receiver is
    ready for, with a round-robin arbiter. A head leaves its buffer once every output of its
    delivery mask has taken it (multicast); an input moves on to another color (round-robin)
    when its head is gone or none of the outputs it still waits for is ready, so a stalled
    color does not hold its input. Data wavelets whose index is outside ``[lo, hi]`` of color
    ``c`` are not delivered to RAMP.

    Timing: a wavelet accepted at clock edge ``t`` is written into the buffer at edge
    ``t + 1`` and can leave at edge ``t + 2`` (2 cycles per hop: the link between two routers
    runs from the sender's registers to the receiver's, with nothing of the receiver's logic
    on it). A wavelet holds its color's room for two cycles at least, so ``depth >= 3``
    sustains one wavelet per cycle per (input, color), ``depth == 2`` two in three cycles
    and ``depth == 1`` one in three. Change a color's route only while none of its wavelets is
    held: the delivery mask is computed when it enters the buffer.

    Parameters:
        colors: number of colors, 1..24.
        depth: per-(input, color) buffer depth in wavelets, 1..64 (an array's default:
            :attr:`wafer_engine.rtl.params.ArrayParams.depth`).
        routes: initial route table, ``{color: Route}``; colors not named have no route.

    Attributes:
        i: In(LinkSignature(colors)).array(5) -- inputs, indexed by :class:`Port`.
        o: Out(LinkSignature(colors)).array(5) -- outputs, indexed by :class:`Port`.
        cfg: In(RouteConfigSignature()) -- route table write port.
    """

    def __new__(cls, *, colors, depth, routes=None):
        # Checked before the component exists, so a rejected router is not reported as an
        # elaboratable created and never used.
        check_colors(colors)
        check_depth(depth)
        check_routes(routes, colors)
        return super().__new__(cls, src_loc_at=1)

    def __init__(self, *, colors, depth, routes=None):
        self._colors = colors
        self._depth = depth
        self._routes = check_routes(routes, colors)
        super().__init__({
            "i": In(LinkSignature(colors)).array(len(PORTS)),
            "o": Out(LinkSignature(colors)).array(len(PORTS)),
            "cfg": In(RouteConfigSignature()),
        })

    @property
    def colors(self):
        return self._colors

    @property
    def depth(self):
        return self._depth

    @property
    def routes(self):
        return list(self._routes)

    def elaborate(self, platform):
        m = Module()
        colors, depth = self.colors, self.depth
        slots = slots_per_color(depth)

        table = [Signal(RouteEntry, init=route.as_entry(), name=f"route_{c}")
                 for c, route in enumerate(self._routes)]
        with m.If(self.cfg.valid):
            for c in range(colors):
                with m.If(self.cfg.color == c):
                    m.d.sync += table[c].eq(self.cfg.route)
        # tx and the range filter bounds are needed for the color arriving on each input: a
        # copy in a small memory (distributed RAM) with one read port per input replaces a
        # 37-bit multiplexer over the colors per input. Written with the table.
        # At least two rows: a one-row memory has a zero-width address, which the Verilog
        # writes as a [-1:0] range. Marked distributed: Yosys would build a memory of up to
        # five rows from flip-flops and a multiplexer per read port (about 600 LUT4 more at
        # four colors).
        arrival = m.submodules.arrival_routes = Memory(
            shape=ArrivalRoute, depth=max(colors, 2), attrs={"ram_style": "distributed"},
            init=[{"tx": route.tx_mask, "lo": route.lo, "hi": route.hi}
                  for route in self._routes])
        arrival_write = arrival.write_port()
        m.d.comb += [
            arrival_write.en.eq(self.cfg.valid & (self.cfg.color < colors)),
            arrival_write.addr.eq(self.cfg.color),
            arrival_write.data.tx.eq(self.cfg.route.tx),
            arrival_write.data.lo.eq(self.cfg.route.lo),
            arrival_write.data.hi.eq(self.cfg.route.hi),
        ]
        # ready_for[c]: the outputs whose receiver was ready for color c in the previous
        # cycle. Only the predictor of which color to present next uses it, so it is taken
        # from registers: the neighbours' ready bits then end at this router's flip-flops
        # instead of running on through the color search into the read address.
        ready_seen = [Signal(colors, name=f"ready_seen_{q.name}") for q in PORTS]
        for q in PORTS:
            m.d.sync += ready_seen[q].eq(self.o[q].ready)
        ready_for = [Cat(ready_seen[q][c] for q in PORTS) for c in range(colors)]

        inputs = {p: self._input(m, p, table, arrival, slots) for p in PORTS}
        # grants[q][p]: output q takes input p's presented head this cycle.
        grants = {q: {} for q in PORTS}
        for q in PORTS:
            sources = [p for p in PORTS if p != q]
            arbiter = m.submodules[f"arbiter_{q.name}"] = RoundRobin(len(sources))
            link = self.o[q]
            m.d.comb += [
                arbiter.requests.eq(Cat(inputs[p].request[q] for p in sources)),
                arbiter.advance.eq(arbiter.valid),
                link.valid.eq(arbiter.valid),
            ]
            for k, p in enumerate(sources):
                grants[q][p] = arbiter.one_hot[k]
            # The only multiplexer on the output: 4 to 1, AND-OR over the one-hot grant.
            m.d.comb += [
                link.wavelet.payload.eq(_and_or(
                    (grants[q][p], inputs[p].head.payload) for p in sources)),
                link.wavelet.control.eq(_and_or(
                    (grants[q][p], inputs[p].head.control) for p in sources)),
                link.wavelet.color.eq(_and_or((grants[q][p], inputs[p].sel) for p in sources)),
            ]
        for p in PORTS:
            taken = Cat(grants[q].get(p, 0) for q in PORTS)
            self._allocate(m, p, inputs[p], taken, ready_for, table, slots)
        return m

    def _input(self, m, p, table, arrival, slots):
        """Input ``p``'s buffer memory, counters and presented head (returned as a namespace)."""
        colors, depth = self.colors, self.depth
        link = self.i[p]
        s = _InputState()
        s.count = [Signal(range(depth + 1), name=f"count_{p.name}_{c}") for c in range(colors)]
        s.rd = [Signal(range(slots), name=f"rd_{p.name}_{c}") for c in range(colors)]
        s.wr = [Signal(range(slots), name=f"wr_{p.name}_{c}") for c in range(colors)]
        # sent[c]: the outputs that already took (p, c)'s head.
        s.sent = [Signal(len(PORTS), name=f"sent_{p.name}_{c}") for c in range(colors)]
        # range(2) at one color: a zero-width signal becomes a [-1:0] range in the Verilog.
        s.sel = Signal(range(max(colors, 2)), name=f"sel_{p.name}")
        s.sel_valid = Signal(name=f"sel_valid_{p.name}")
        # sent[sel], registered with the selection, so that the presented head's `remaining`
        # needs no multiplexer at the start of the allocation path.
        s.sel_sent = Signal(len(PORTS), name=f"sel_sent_{p.name}")
        s.raddr = Signal(range(colors * slots), name=f"raddr_{p.name}")

        mem = m.submodules[f"buffer_{p.name}"] = Memory(shape=BufferEntry, depth=colors * slots,
                                                       init=[])
        s.memory = mem
        write = mem.write_port()
        # Asynchronous read at a registered address: distributed RAM on ECP5, and the entry
        # written at the edge that also loads the address is read in the next cycle.
        read = mem.read_port(domain="comb")
        m.d.comb += read.addr.eq(s.raddr)
        s.head = read.data

        # Arrival register: the link ends in flip-flops, so the path between two routers is
        # the sender's allocation and the wire, nothing of the receiver. A wavelet taken at
        # edge t is written into the buffer at edge t + 1, always: `ready` counts it against
        # its color's room, so the buffer has space for it whatever leaves meanwhile.
        s.stage_valid = Signal(name=f"stage_valid_{p.name}")
        s.stage = Signal.like(link.wavelet, name=f"stage_{p.name}")
        color_bits = max(1, (colors - 1).bit_length())
        stage_color = s.stage.color[:color_bits]
        # push[c]: the arrival register holds a wavelet of color c; it enters the buffer at the
        # next edge.
        s.push = [Signal(name=f"push_{p.name}_{c}") for c in range(colors)]
        for c in range(colors):
            m.d.comb += s.push[c].eq(s.stage_valid & (stage_color == c))
        # Accept side: ready depends on registers only (route table, counts, arrival register).
        m.d.comb += link.ready.eq(Cat(
            table[c].rx[p] & table[c].tx.any() & (s.count[c] != depth)
            & ~(s.push[c] & (s.count[c] == depth - 1))
            for c in range(colors)))
        take = Cat(link.valid & (link.wavelet.color == c) & link.ready[c]
                   for c in range(colors)).any()
        # The register takes the link's wavelet in every cycle and only its valid bit waits
        # for `take`: `take` depends on the sender's grant, which depends on this input's
        # `ready` (a round trip between two tiles in one cycle), and as the clock enable of 38
        # flip-flops it ended the 2x2 array's critical path. Nothing reads the register while
        # it is not valid.
        m.d.sync += [s.stage_valid.eq(take), s.stage.eq(link.wavelet)]
        s.push_color = stage_color
        if self.colors > 1:
            route = arrival.read_port(domain="comb")
            m.d.comb += route.addr.eq(stage_color)
            route = route.data
        else:
            # At one color every wavelet is of color 0: its route is the table row itself,
            # no read port (synthesis then drops the unread copy).
            route = table[0]
        # No U-turn: a wavelet never goes back out of the port it came in on.
        tx = route.tx & ~(1 << p)
        mask = Signal(len(PORTS), name=f"mask_{p.name}")
        if p == Port.RAMP:
            m.d.comb += mask.eq(tx)
        else:
            index = s.stage.payload.half.index
            passes = self._passes_filter(index, s.stage.control, route.lo, route.hi)
            m.d.comb += mask.eq(tx & ~((~passes) << Port.RAMP))
        slot = Array(s.wr)[stage_color]
        s.write_addr = Signal.like(s.raddr, name=f"write_addr_{p.name}")
        m.d.comb += s.write_addr.eq(Cat(slot, stage_color) if slots > 1 else stage_color)
        m.d.comb += [
            write.en.eq(s.stage_valid),
            write.addr.eq(s.write_addr),
            write.data.payload.eq(s.stage.payload),
            write.data.control.eq(s.stage.control),
            write.data.mask.eq(mask),
        ]
        for c in range(colors):
            with m.If(s.push[c]):
                m.d.sync += s.wr[c].eq(s.wr[c] + 1)

        # Present side: what the selected color's head still owes, and whom it asks.
        s.remaining = Signal(len(PORTS), name=f"remaining_{p.name}")
        m.d.comb += s.remaining.eq(
            Cat(s.sel_valid).replicate(len(PORTS)) & s.head.mask & ~s.sel_sent)
        s.request = {}
        for q in PORTS:
            if q == p:
                continue
            r = s.request[q] = Signal(name=f"request_{p.name}_{q.name}")
            m.d.comb += r.eq(s.remaining[q] & self.o[q].ready.bit_select(s.sel, 1))
        return s

    def _allocate(self, m, p, s, taken, ready_for, table, slots):
        """Input ``p`` after the grants: pop or keep the head, pick the next color to present."""
        colors, depth = self.colors, self.depth
        left = s.remaining & ~taken
        finished = Signal(name=f"finished_{p.name}")
        stalled = Signal(name=f"stalled_{p.name}")
        advance = Signal(name=f"advance_{p.name}")
        # Still owed outputs whose receiver is ready for the color but that another input won
        # this cycle: keep the selection, the output's round-robin comes back to this input.
        contended = Cat(s.request[q] & ~taken[q] for q in s.request).any()
        m.d.comb += [
            finished.eq(s.sel_valid & ~left.any()),
            stalled.eq(s.sel_valid & ~finished & ~contended),
            advance.eq(~s.sel_valid | finished | stalled),
        ]
        # Kept equal to sent[sel] (taken is empty while nothing is presented).
        # Bit p stays 0 (no U-turn), stated so that synthesis drops it.
        sel_sent_next = Mux(finished, 0, self._record_taken(s.sel_sent, taken)) & ~(1 << p)
        pop = [Signal(name=f"pop_{p.name}_{c}") for c in range(colors)]
        for c in range(colors):
            m.d.comb += pop[c].eq(finished & (s.sel == c))
            m.d.sync += [s.count[c].eq(s.count[c] + s.push[c] - pop[c]),
                         s.rd[c].eq(s.rd[c] + pop[c])]
            # sent[sel] equals sel_sent, so the selected color's entry takes sel_sent's next
            # value: one shared update per input, a clock enable per color.
            with m.If(s.sel_valid & (s.sel == c)):
                m.d.sync += s.sent[c].eq(sel_sent_next)

        # The next color to present, round-robin starting after the current one, among colors
        # with a wavelet after this edge that could move: some output its head still owes
        # (`tx & ~sent`) was ready for it in the previous cycle (a cheap predictor, so a
        # stalled color, a multicast head waiting for a slow receiver included, is not picked
        # over and over). Split by
        # how late each part is known, so the round-robin works on registered state only:
        # - `others`: colors other than `sel` already buffered (no pop can touch them);
        # - `arrival`: the color entering in this cycle, if its buffer was empty (one wavelet
        #   per cycle enters an input, so this is one color, not a search);
        # - `sel` itself, last in round-robin order: the only color a pop can empty; kept
        #   without the predictor.
        sel_bits = len(s.sel)
        movable = Signal(colors, name=f"movable_{p.name}")
        m.d.comb += movable.eq(Cat((table[c].tx & ~s.sent[c] & ready_for[c]).any()
                                   for c in range(colors)))
        # At one color `sel` is always 0: there is no other color to move to.
        not_sel = [s.sel != c for c in range(colors)] if colors > 1 else [Const(0, 1)]
        others = Signal(colors, name=f"others_{p.name}")
        m.d.comb += others.eq(Cat(not_sel[c] & (s.count[c] != 0) & movable[c]
                                  for c in range(colors)))
        # Color 0 is never after `sel`: a constant, not `sel < 0` (Verilator's UNSIGNED).
        after_sel = Cat(Const(0, 1), *(s.sel < c for c in range(1, colors)))
        # The pick, one-hot then as an index. The named one-hot signal changes no logic; it
        # is kept because the recorded router numbers (docs/fpga.md) were measured with it:
        # without it abc9 maps the same logic to 1,392 / 2,196 / 3,039 LUT4 at 1 / 4 / 8
        # colors instead of 1,126 / 2,178 / 3,067.
        pick_oh = Signal(colors, name=f"pick_oh_{p.name}")
        m.d.comb += pick_oh.eq(first_after(others, after_sel))
        pick = one_hot_index(pick_oh)[:sel_bits]
        arrival = Signal(name=f"arrival_{p.name}")
        m.d.comb += arrival.eq(Cat(s.push[c] & (s.count[c] == 0) & movable[c] & not_sel[c]
                                   for c in range(colors)).any())
        arrival_color = s.push_color[:sel_bits]
        sel_count = Array(s.count)[s.sel]
        sel_push = Array(s.push)[s.sel]
        # `sel` stays presented while it has a wavelet and no other color can go, even if
        # nothing it owes is ready now: it then catches a receiver that is ready for a single
        # cycle (a selection made after seeing `ready` would always be a cycle late for it).
        keep_sel = (sel_count + sel_push - finished) != 0
        sel_rd = Array(s.rd)[s.sel]
        sel_rd_next = (sel_rd + finished)[:len(sel_rd)]
        with m.If(advance & others.any()):
            m.d.sync += [
                s.sel.eq(pick),
                s.sel_valid.eq(1),
                s.sel_sent.eq(Array(s.sent)[pick]),
                s.raddr.eq(Cat(Array(s.rd)[pick], pick) if slots > 1 else pick),
            ]
        with m.Elif(advance & arrival):
            m.d.sync += [
                s.sel.eq(arrival_color),
                s.sel_valid.eq(1),
                s.sel_sent.eq(0),
                # An arrival into an empty buffer: its head is at the slot being written.
                s.raddr.eq(s.write_addr),
            ]
        with m.Else():
            with m.If(advance):
                m.d.sync += s.sel_valid.eq(keep_sel)
            m.d.sync += [
                s.sel_sent.eq(sel_sent_next),
                s.raddr.eq(Cat(sel_rd_next, s.sel) if slots > 1 else s.sel),
            ]

    @staticmethod
    def _record_taken(sent, taken):
        """The ``sent`` entry after a cycle: the outputs that took the head so far."""
        return sent | taken

    @staticmethod
    def _passes_filter(index, control, lo, hi):
        """Whether a wavelet passes the RAMP range filter: control, or index in ``[lo, hi]``."""
        return control | ((lo <= index) & (index <= hi))


class _InputState:
    """The signals of one input port, shared between the input and allocation halves."""


def _and_or(terms):
    """``OR(enable & value)`` over ``(enable, value)`` pairs: a multiplexer for one-hot
    enables (a zero result when no enable is set)."""
    result = 0
    for enable, value in terms:
        value = Value.cast(value)
        result = result | (enable.replicate(len(value)) & value)
    return result
