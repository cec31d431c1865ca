"""A wafer tile: the router, its processing element, and the tile's configuration-chain node."""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from wafer_engine.rtl.config_chain import WORD_BITS, ConfigDest, ConfigNode
from wafer_engine.rtl.pe import COUNTERS, CountersSignature, Pe, Target
from wafer_engine.rtl.params import ArrayParams
from wafer_engine.rtl.ports import Port
from wafer_engine.rtl.router import Router
from wafer_engine.rtl.wavelet import LinkSignature

__all__ = ["Tile", "MESH_PORTS"]

#: The four mesh-facing ports, in the order of the tile's ``i``/``o`` link arrays.
MESH_PORTS = (Port.N, Port.E, Port.S, Port.W)


class Tile(wiring.Component):
    """Router + PE + configuration node: the one module an array instantiates R x C times.

    The router's RAMP port is wired to the PE. Configuration words arrive on ``cfg_i`` and
    leave on ``cfg_o`` toward the next tile of the chain; records for this tile write the
    router's route table (``ROUTE``, item = RouteEntry bits) or the PE's task table, memory
    and accumulators (``TASK``, ``MEM``, ``ACC``). Load configuration before traffic: the PE
    takes writes only while idle.

    Parameters: an :class:`wafer_engine.rtl.params.ArrayParams` (default: the default array);
    a tile uses its router ``depth`` and its ``pe``, not its shape.

    Attributes:
        i: In(LinkSignature(colors)).array(4) -- links from the N, E, S, W neighbours.
        o: Out(LinkSignature(colors)).array(4) -- links to the N, E, S, W neighbours.
        cfg_i: In(stream.Signature(32)) -- configuration words from the previous tile.
        cfg_o: Out(stream.Signature(32)) -- configuration words for the next tile.
        counters: the PE's event counters (see :class:`wafer_engine.rtl.pe.CountersSignature`).
        idle: Out(1) -- the PE has nothing queued or in flight.
    """

    def __init__(self, params=None):
        self._params = params = ArrayParams() if params is None else params
        colors = params.colors
        super().__init__({
            "i": In(LinkSignature(colors)).array(len(MESH_PORTS)),
            "o": Out(LinkSignature(colors)).array(len(MESH_PORTS)),
            "cfg_i": In(stream.Signature(WORD_BITS)),
            "cfg_o": Out(stream.Signature(WORD_BITS)),
            "counters": Out(CountersSignature()),
            "idle": Out(1),
        })

    @property
    def params(self):
        """The :class:`wafer_engine.rtl.params.ArrayParams` this tile was built with."""
        return self._params

    @property
    def colors(self):
        return self._params.colors

    def elaborate(self, platform):
        m = Module()
        m.submodules.router = router = Router(colors=self.colors, depth=self._params.depth)
        m.submodules.pe = pe = Pe(self._params.pe)
        m.submodules.cfg = node = ConfigNode()

        for n, port in enumerate(MESH_PORTS):
            wiring.connect(m, wiring.flipped(self.i[n]), router.i[port])
            wiring.connect(m, router.o[port], wiring.flipped(self.o[n]))
        wiring.connect(m, router.o[Port.RAMP], pe.i)
        wiring.connect(m, pe.o, router.i[Port.RAMP])
        wiring.connect(m, wiring.flipped(self.cfg_i), node.i)
        wiring.connect(m, node.o, wiring.flipped(self.cfg_o))
        m.d.comb += [
            self.idle.eq(pe.idle),
            # Peek is for unit tests of the PE alone; in a tile it reads nothing.
            pe.peek.target.eq(Target.TASK),
            pe.peek.addr.eq(0),
        ]

        for name in COUNTERS:
            m.d.comb += getattr(self.counters, name).eq(getattr(pe.counters, name))

        write = node.write
        m.d.comb += [
            router.cfg.valid.eq(write.valid & (write.dest == ConfigDest.ROUTE)),
            router.cfg.color.eq(write.addr),
            router.cfg.route.eq(write.data),
            pe.cfg.valid.eq(write.valid & (write.dest != ConfigDest.ROUTE)),
            pe.cfg.addr.eq(write.addr),
            pe.cfg.data.eq(write.data),
        ]
        with m.Switch(write.dest):
            for dest, target in ((ConfigDest.TASK, Target.TASK), (ConfigDest.MEM, Target.MEM),
                                 (ConfigDest.ACC, Target.ACC)):
                with m.Case(dest):
                    m.d.comb += pe.cfg.target.eq(target)
        return m
