"""The mesh router: five ports, per-color virtual channels, static multicast routes."""

from amaranth.hdl import Array, Cat, Const, Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from wafer_engine.rtl.arbiter import RoundRobin
from wafer_engine.rtl.ports import PORTS, Port
from wafer_engine.rtl.route import RouteConfigSignature, RouteEntry, check_routes
from wafer_engine.rtl.params import check_depth
from wafer_engine.rtl.wavelet import LinkSignature, check_colors

__all__ = ["Router"]


class _Entry(data.Struct):
    """What a virtual-channel buffer stores: the color is implied by the buffer."""
    payload: 32
    control: 1


class Router(wiring.Component):
    """A 5-port mesh router with one buffer per (input port, color).

    Every input port has ``colors`` FIFOs of ``depth`` wavelets (the virtual channels). A wavelet
    of color ``c`` is accepted on port ``p`` when ``p`` is in ``rx[c]``, ``tx[c]`` is not empty
    and the (p, c) FIFO has room; ``i[p].ready`` depends on nothing else. The head of each FIFO is
    copied to every port of ``tx[c]`` (multicast); each output port picks among the heads that
    want it and whose color its receiver is ready for with a round-robin arbiter, so outputs
    proceed independently and a head leaves its FIFO once every port of ``tx[c]`` has taken it.
    Data wavelets whose index is outside ``[lo, hi]`` of color ``c`` are not delivered to RAMP.

    Timing: a wavelet accepted at clock edge ``t`` can leave at edge ``t + 1`` (1 cycle per hop);
    ``depth >= 2`` sustains one wavelet per cycle per output, ``depth == 1`` at most one every two
    cycles per (input, color).

    Parameters:
        colors: number of colors, 1..24.
        depth: per-(input, color) FIFO depth in wavelets, 1..64 (an array's default:
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
        colors, nports = self.colors, len(PORTS)

        table = [Signal(RouteEntry, init=route.as_entry(), name=f"route_{c}")
                 for c, route in enumerate(self._routes)]
        with m.If(self.cfg.valid):
            for c in range(colors):
                with m.If(self.cfg.color == c):
                    m.d.sync += table[c].eq(self.cfg.route)

        # Virtual-channel buffers, flat index k = c * 5 + p (color-major), mirrored by the model.
        fifos, heads = [], []
        for c in range(colors):
            for p in PORTS:
                fifo = SyncFIFO(width=_Entry.as_shape().size, depth=self.depth)
                m.submodules[f"vc_{p.name}_{c}"] = fifo
                fifos.append(fifo)
                heads.append(_Entry(fifo.r_data))

        for p in PORTS:
            link = self.i[p]
            m.d.comb += link.ready.eq(Cat(
                fifos[c * nports + p].w_rdy & table[c].rx[p] & table[c].tx.any()
                for c in range(colors)))
            for c in range(colors):
                fifo = fifos[c * nports + p]
                m.d.comb += [
                    fifo.w_data.eq(Cat(link.wavelet.payload, link.wavelet.control)),
                    # Gated by the ready bit, not only by the FIFO's room: a sender may offer a
                    # color this port does not receive, and that must not transfer.
                    fifo.w_en.eq(link.valid & (link.wavelet.color == c) & link.ready[c]),
                ]

        # sent[k] bit q: head of buffer k was already delivered to port q.
        sent = [Signal(nports, name=f"sent_{c}_{p.name}") for c in range(colors) for p in PORTS]
        granted = [[Signal(name=f"grant_{q.name}_{k}") for k in range(len(fifos))] for q in PORTS]

        for q in PORTS:
            arbiter = m.submodules[f"arbiter_{q.name}"] = RoundRobin(len(fifos))
            link = self.o[q]
            requests = []
            for c in range(colors):
                for p in PORTS:
                    k = c * nports + p
                    wanted = (fifos[k].r_rdy & table[c].tx[q] & ~sent[k][q] & link.ready[c]
                              & self._passes_filter(q, heads[k], table[c]))
                    requests.append(wanted)
            m.d.comb += [
                arbiter.requests.eq(Cat(requests)),
                arbiter.advance.eq(link.valid),
                link.valid.eq(arbiter.valid),
                link.wavelet.payload.eq(Array(h.payload for h in heads)[arbiter.grant]),
                link.wavelet.control.eq(Array(h.control for h in heads)[arbiter.grant]),
                link.wavelet.color.eq(arbiter.grant // nports),
            ]
            for k in range(len(fifos)):
                m.d.comb += granted[q][k].eq(arbiter.valid & (arbiter.grant == k))

        for c in range(colors):
            for p in PORTS:
                k = c * nports + p
                taken = Cat(granted[q][k] for q in PORTS)
                # A port is done with the head once it took it now or before, or the RAMP filter
                # rejects it; ports outside tx are done by definition.
                done = sent[k] | taken | ~table[c].tx
                filtered = Signal(name=f"filtered_{c}_{p.name}")
                m.d.comb += filtered.eq(~self._passes_filter(Port.RAMP, heads[k], table[c]))
                done_all = (done | filtered.shift_left(Port.RAMP)).all()
                m.d.comb += fifos[k].r_en.eq(done_all)
                with m.If(fifos[k].r_rdy):
                    with m.If(done_all):
                        m.d.sync += sent[k].eq(0)
                    with m.Else():
                        m.d.sync += sent[k].eq(sent[k] | taken)
        return m

    @staticmethod
    def _passes_filter(port, head, route):
        """Whether ``head`` may be delivered to ``port`` under the RAMP range filter."""
        if port != Port.RAMP:
            return Const(1)
        index = head.payload[16:32]
        return head.control | ((route.lo <= index) & (index <= route.hi))
