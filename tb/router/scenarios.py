"""Route tables and wavelet streams for router tests and benchmarks (plain Python, seeded)."""

from wafer_engine.fabric.model.wavelet import Wavelet
from wafer_engine.rtl.ports import PORTS, Port
from wafer_engine.rtl.route import Route

__all__ = ["all_paths", "random_routes", "random_streams", "UniquePayloads", "SlowReceiver",
           "permutation_routes"]


def all_paths():
    """Every (input, output) pair a route can connect: 5 x 4 = 20, U-turns excluded."""
    return [(p, q) for p in PORTS for q in PORTS if p != q]


class UniquePayloads:
    """Random 32-bit payloads never repeated within one test, so each output wavelet names its
    source. ``index_range`` bounds the index half (for range-filter tests)."""

    def __init__(self, rng):
        self.rng, self.seen = rng, set()

    def __call__(self, index_range=(0, 0xFFFF)):
        while True:
            value = self.rng.getrandbits(16)
            index = self.rng.randint(*index_range)
            payload = index << 16 | value
            if payload not in self.seen:
                self.seen.add(payload)
                return payload


def random_routes(rng, colors, ramp_filters=True):
    """A random valid route per color: 1..3 rx ports, 1..(5 - |rx|) tx ports among the others,
    and on RAMP deliveries a random index window."""
    routes = {}
    for c in range(colors):
        rx = rng.sample(PORTS, rng.randint(1, 3))
        others = [p for p in PORTS if p not in rx]
        tx = rng.sample(others, rng.randint(1, len(others)))
        lo, hi = 0, 0xFFFF
        if ramp_filters and Port.RAMP in tx and rng.random() < 0.5:
            lo = rng.randint(0, 0xFFFF)
            hi = rng.randint(lo, 0xFFFF)
        routes[c] = Route(frozenset(rx), frozenset(tx), lo, hi)
    return routes


def random_streams(rng, routes, count, control_rate=0.05):
    """``count`` wavelets spread over the input ports, each of a color that port may send.

    Returns ``{port: [Wavelet]}``.
    """
    payload = UniquePayloads(rng)
    sources = [(p, c) for c, r in routes.items() for p in r.rx]
    streams = {p: [] for p in PORTS}
    for _ in range(count):
        p, c = rng.choice(sources)
        control = int(rng.random() < control_rate)
        streams[Port(p)].append(Wavelet(c, payload(), control))
    return streams


def permutation_routes(colors):
    """Up to five colors, color ``c`` from input ``c`` to output ``c + 1`` (mod 5): every
    output fed by its own input, so all of them can be busy at once."""
    return {c: Route(frozenset({Port(c)}), frozenset({Port((c + 1) % 5)}))
            for c in range(min(colors, 5))}


class SlowReceiver:
    """Backpressure with no pauses where every receiver is always ready, except ``port``, ready
    (for every color) only in cycles ``cycle % period == period - 1``. Same interface as
    :class:`~wafer_engine.fabric.model.traffic.Backpressure`."""

    def __init__(self, colors, port, period):
        self.all, self.port, self.period = (1 << colors) - 1, port, period

    def pause(self, cycle, port):
        return False

    def ready(self, cycle, port):
        if port == self.port and cycle % self.period != self.period - 1:
            return 0
        return self.all
