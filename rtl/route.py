"""A color's static route through one router: rx ports, tx ports, and the RAMP range filter."""

from dataclasses import dataclass

from amaranth.lib import data, wiring
from amaranth.lib.wiring import Out

from wafer_engine.rtl.ports import PORTS, parse_port
from wafer_engine.rtl.wavelet import COLOR_BITS, check_colors

__all__ = ["RouteEntry", "Route", "RouteConfigSignature", "check_routes"]

INDEX_MAX = 0xFFFF


class RouteEntry(data.Struct):
    """One row of the route table, as stored in the router (42 bits).

    ``rx``/``tx`` are port masks (bit ``Port.N`` .. ``Port.RAMP``). ``lo``/``hi`` bound the
    16-bit index of data wavelets delivered to RAMP (inclusive); control wavelets always pass.
    """
    rx: 5
    tx: 5
    lo: 16
    hi: 16


class RouteConfigSignature(wiring.Signature):
    """Write port of the route table, seen from the writer.

    In a cycle with ``valid`` set, row ``color`` becomes ``route`` at the next clock edge.
    Change a color's route only while no wavelet of that color is buffered in the router.
    """

    def __init__(self):
        super().__init__({
            "valid": Out(1),
            "color": Out(COLOR_BITS),
            "route": Out(RouteEntry),
        })


def _port_set(ports, what, color):
    try:
        return frozenset(parse_port(p) for p in ports)
    except ValueError as exc:
        raise ValueError(f"Color {color} route {what}: {exc}") from None
    except TypeError:
        raise ValueError(f"Color {color} route {what} must be a collection of ports, "
                         f"not {ports!r}") from None


@dataclass(frozen=True)
class Route:
    """The route of one color through one router.

    Args:
        rx: ports whose wavelets of this color the router accepts.
        tx: ports every accepted wavelet is copied to (several = multicast).
        lo, hi: inclusive index range (0..65535) of data wavelets delivered to RAMP.
    """
    rx: frozenset = frozenset()
    tx: frozenset = frozenset()
    lo: int = 0
    hi: int = INDEX_MAX

    def validated(self, color):
        """Return this route with ports parsed, or raise ``ValueError`` naming the bad value."""
        rx = _port_set(self.rx, "rx", color)
        tx = _port_set(self.tx, "tx", color)
        for name, bound in (("lo", self.lo), ("hi", self.hi)):
            if not isinstance(bound, int) or isinstance(bound, bool) or not 0 <= bound <= INDEX_MAX:
                raise ValueError(f"Color {color} range filter {name} must be an integer between "
                                 f"0 and {INDEX_MAX}, not {bound!r}")
        if self.lo > self.hi:
            raise ValueError(f"Color {color} range filter lo {self.lo} is greater than "
                             f"hi {self.hi}")
        uturn = rx & tx
        if uturn:
            port = min(uturn).name
            raise ValueError(f"Color {color} route is a U-turn: port {port} is in both rx and tx")
        if rx and not tx:
            raise ValueError(f"Color {color} route receives on "
                             f"{'+'.join(p.name for p in sorted(rx))} but transmits nowhere")
        return Route(rx, tx, self.lo, self.hi)

    @property
    def rx_mask(self):
        return sum(1 << p for p in self.rx)

    @property
    def tx_mask(self):
        return sum(1 << p for p in self.tx)

    def accepts_index(self, index):
        """Whether a data wavelet with this index passes the RAMP range filter."""
        return self.lo <= index <= self.hi

    def as_entry(self):
        """This route as a :class:`RouteEntry` constant (ports must already be parsed)."""
        return RouteEntry.const({"rx": self.rx_mask, "tx": self.tx_mask,
                                 "lo": self.lo, "hi": self.hi})

    @classmethod
    def from_entry(cls, bits):
        """The route stored as ``bits``, an integer in :class:`RouteEntry` layout."""
        entry = RouteEntry.from_bits(bits)
        return cls(frozenset(p for p in PORTS if (entry.rx >> p) & 1),
                   frozenset(p for p in PORTS if (entry.tx >> p) & 1),
                   int(entry.lo), int(entry.hi))


def check_routes(routes, colors):
    """Validate a ``{color: Route}`` table for a router with ``colors`` colors.

    Returns a list of ``colors`` validated routes (missing colors get an empty route).
    """
    check_colors(colors)
    if routes is None:
        routes = {}
    if not isinstance(routes, dict):
        raise ValueError(f"Routes must be a dict of color to Route, not {routes!r}")
    table = [Route() for _ in range(colors)]
    for color, route in routes.items():
        if not isinstance(color, int) or isinstance(color, bool) or not 0 <= color < colors:
            raise ValueError(f"Route color must be an integer between 0 and {colors - 1}, "
                             f"not {color!r}")
        if not isinstance(route, Route):
            raise ValueError(f"Color {color} route must be a Route, not {route!r}")
        table[color] = route.validated(color)
    return table
