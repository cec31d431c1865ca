"""Golden model of the tile array: one :class:`RouterModel` and one :class:`PeModel` per tile,
stepped together cycle by cycle with the links between them, bit-exact and cycle-exact with
``wafer_array`` once it is configured."""

from wafer_engine.rtl.ports import PORTS, Port
from wafer_engine.rtl.tile import MESH_PORTS

from wafer_engine.fabric.model.pe_model import PeModel
from wafer_engine.fabric.program.program import chain_order, edge_of, neighbour
from wafer_engine.fabric.model.router_model import RouterModel
from wafer_engine.fabric.model.traffic import LinkSender

__all__ = ["ArrayModel", "edge_tile"]


def edge_tile(rows, cols, edge, position):
    """The tile whose ``edge`` port faces the array edge at ``position``."""
    return {Port.N: (0, position), Port.S: (rows - 1, position), Port.W: (position, 0),
            Port.E: (position, cols - 1)}[edge]


class ArrayModel:
    """The array after :class:`~wafer_engine.fabric.program.program.ArrayProgram` ``program`` was loaded.

    Feed edge streams with :meth:`feed` and advance with :meth:`step` (one clock cycle) or
    :meth:`run` (until every queue, buffer and PE is empty). What leaves the array is appended
    to ``outputs[(edge, position)]`` as ``(cycle, Wavelet)``.
    """

    def __init__(self, program):
        self.params = program.params
        self.rows, self.cols = program.rows, program.cols
        self.colors = program.colors
        self.tiles = chain_order(self.rows, self.cols)
        self.routers, self.pes = {}, {}
        for tile in self.tiles:
            routes = dict(enumerate(program.routes[tile])) if tile in program.routes else None
            self.routers[tile] = RouterModel(colors=self.colors, depth=self.params.depth,
                                              routes=routes)
            pe = self.pes[tile] = PeModel(self.params.pe)
            if tile in program.pes:
                for write in program.pes[tile].config_writes():
                    pe.configure(*write)
        self.edges = [(e, n) for e in MESH_PORTS
                      for n in range(self.cols if e in (Port.N, Port.S) else self.rows)]
        self.senders = {edge: LinkSender(self.colors) for edge in self.edges}
        self.outputs = {edge: [] for edge in self.edges}
        self.cycle = 0
        self._all = (1 << self.colors) - 1

    def _inside(self, tile):
        return 0 <= tile[0] < self.rows and 0 <= tile[1] < self.cols

    def feed(self, streams):
        """Queue ``{(edge, position): [Wavelet]}`` at the array's edges."""
        for (edge, position), stream in streams.items():
            for w in stream:
                self.senders[(Port(edge), position)].push(w)

    def edge_ready(self):
        """``{(edge, position): mask}``: what the edge tiles' routers accept this cycle."""
        return {(e, n): self.routers[edge_tile(self.rows, self.cols, e, n)].ready(e)
                for e, n in self.edges}

    def step(self, edge_ready=None, pauses=None):
        """One clock cycle. ``edge_ready``: ``{(edge, position): mask}`` of the receivers
        outside the array (default: always ready); ``pauses``: edges whose senders hold back
        this cycle. Returns ``(offered, emitted)`` on the edges: per edge the wavelet driven
        into the array (or ``None``) and the wavelet that left it (or ``None``)."""
        rready = {t: [r.ready(p) for p in PORTS] for t, r in self.routers.items()}
        pready = {t: pe.ready() for t, pe in self.pes.items()}
        pe_out = {}
        for t, pe in self.pes.items():
            head = pe.out_fifo[0] if pe.out_fifo else None
            ok = head is not None and (rready[t][Port.RAMP] >> head.color) & 1
            pe_out[t] = head if ok else None

        emitted = {}
        for t, router in self.routers.items():
            out_ready = [0] * len(PORTS)
            out_ready[Port.RAMP] = pready[t]
            for q in MESH_PORTS:
                other = neighbour(t, q)
                if self._inside(other):
                    out_ready[q] = rready[other][q.opposite]
                else:
                    edge = edge_of(t, q)
                    out_ready[q] = self._all if edge_ready is None else edge_ready[edge]
            emitted[t] = router.emit(out_ready)

        offered_edges, out_edges = {}, {}
        for t, router in self.routers.items():
            offered = [None] * len(PORTS)
            offered[Port.RAMP] = pe_out[t]
            for p in MESH_PORTS:
                other = neighbour(t, p)
                if self._inside(other):
                    offered[p] = emitted[other][p.opposite]
                else:
                    edge = edge_of(t, p)
                    paused = bool(pauses) and edge in pauses
                    offered[p] = offered_edges[edge] = self.senders[edge].offer(rready[t][p],
                                                                                paused)
                    out_edges[edge] = emitted[t][p]
            router.commit(offered)
        self.links = emitted    # per tile, what each router port sent this cycle
        for t, pe in self.pes.items():
            out = pe.step(emitted[t][Port.RAMP], rready[t][Port.RAMP])
            assert out == pe_out[t]
        for edge, sender in self.senders.items():
            sender.commit(rready[edge_tile(self.rows, self.cols, *edge)][edge[0]])
            if out_edges[edge] is not None:
                self.outputs[edge].append((self.cycle, out_edges[edge]))
        self.cycle += 1
        return offered_edges, out_edges

    @property
    def busy(self):
        """Anything still queued at an edge, buffered in a router or in flight in a PE."""
        return (any(s.pending for s in self.senders.values())
                or any(r.buffered for r in self.routers.values())
                or any(pe.busy for pe in self.pes.values()))

    def run(self, streams=None, max_cycles=10_000_000):
        """Feed ``streams`` and step until the array is quiet; returns the cycles taken."""
        if streams:
            self.feed(streams)
        start = self.cycle
        while self.busy:
            if self.cycle - start >= max_cycles:
                raise RuntimeError(f"Array did not go quiet within {max_cycles} cycles")
            self.step()
        return self.cycle - start

    def run_to_quiet(self, first_in=None):
        """Step until the array is quiet; returns the cycle in which the first wavelet entered
        it (``first_in`` if already known, ``None`` if none has)."""
        while self.busy:
            ready = self.edge_ready() if first_in is None else None
            offered, _ = self.step()
            if first_in is None and any(w is not None and (ready[e] >> w.color) & 1
                                        for e, w in offered.items()):
                first_in = self.cycle - 1
        return first_in

    def counters(self):
        """``{tile: {counter: value}}`` of every PE."""
        return {t: dict(pe.counters) for t, pe in self.pes.items()}
