"""Two routers back to back, for timing the path between neighbouring routers.

``python -m wafer_engine.tb.bench.router_pair --colors 8 -o DIR`` writes ``DIR/router_pair.v``
(module ``router_pair``): router ``a``'s E output feeds router ``b``'s W input and ``b``'s W
output feeds ``a``'s E input; every other link and both route-table write ports are module
ports. Place it with ``python -m wafer_engine.sw.flows.pnr DIR/router_pair.v --top router_pair
-o DIR/pnr``: in an array, the path from one router's output into its neighbour's buffer is
a register-to-register path across the link, which a router placed alone does not show.
"""

import argparse

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from wafer_engine.rtl.params import ArrayParams, check_depth
from wafer_engine.rtl.ports import PORTS, Port
from wafer_engine.rtl.route import RouteConfigSignature
from wafer_engine.rtl.router import Router
from wafer_engine.rtl.wavelet import LinkSignature, check_colors
from wafer_engine.sw.flows.verilog import write_verilog

__all__ = ["RouterPair", "PAIRED"]

#: The port of each router that faces the other one.
PAIRED = {"a": Port.E, "b": Port.W}


class RouterPair(wiring.Component):
    """Routers ``a`` and ``b`` with ``a.o[E] -> b.i[W]`` and ``b.o[W] -> a.i[E]``.

    Parameters:
        colors: colors per router, 1..24.
        depth: buffer depth per (input, color), 1..64.

    Attributes:
        ``<r>_i_<port>`` / ``<r>_o_<port>`` for router ``r`` in ``a``, ``b`` and each of its
        ports but the paired one (lower-case port names), and ``<r>_cfg``.
    """

    def __new__(cls, *, colors, depth):
        # Checked before the component exists, as for Router.
        check_colors(colors)
        check_depth(depth)
        return super().__new__(cls, src_loc_at=1)

    def __init__(self, *, colors, depth):
        self._colors = colors
        self._depth = depth
        members = {}
        for r, paired in PAIRED.items():
            for p in PORTS:
                if p != paired:
                    members[f"{r}_i_{p.name.lower()}"] = In(LinkSignature(colors))
                    members[f"{r}_o_{p.name.lower()}"] = Out(LinkSignature(colors))
            members[f"{r}_cfg"] = In(RouteConfigSignature())
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        routers = {r: Router(colors=self._colors, depth=self._depth) for r in PAIRED}
        for r, router in routers.items():
            m.submodules[r] = router
            wiring.connect(m, wiring.flipped(getattr(self, f"{r}_cfg")), router.cfg)
            for p in PORTS:
                if p != PAIRED[r]:
                    name = p.name.lower()
                    wiring.connect(m, wiring.flipped(getattr(self, f"{r}_i_{name}")),
                                   router.i[p])
                    wiring.connect(m, wiring.flipped(getattr(self, f"{r}_o_{name}")),
                                   router.o[p])
        a, b = routers["a"], routers["b"]
        wiring.connect(m, a.o[PAIRED["a"]], b.i[PAIRED["b"]])
        wiring.connect(m, b.o[PAIRED["b"]], a.i[PAIRED["a"]])
        return m


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m wafer_engine.tb.bench.router_pair",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--colors", type=int, default=ArrayParams().colors)
    parser.add_argument("--depth", type=int, default=ArrayParams().depth)
    parser.add_argument("-o", "--output", required=True, help="output folder")
    args = parser.parse_args(argv)
    try:
        pair = RouterPair(colors=args.colors, depth=args.depth)
    except ValueError as exc:
        parser.error(str(exc))
    print(write_verilog(pair, "router_pair", args.output))


if __name__ == "__main__":
    main()
