"""The router's golden model: functional semantics, and the cycle model's agreement with it."""

import random

import pytest

from wafer_engine.fabric.model.router_model import RouterModel, route_streams, simulate_router
from wafer_engine.fabric.model.traffic import Backpressure, LinkSender
from wafer_engine.fabric.model.wavelet import Wavelet
from wafer_engine.rtl.ports import PORTS, Port
from wafer_engine.rtl.route import Route
from wafer_engine.tb.router.scenarios import random_routes, random_streams


def run(routes, colors, streams, depth=2, seed=0, **rates):
    model = RouterModel(colors=colors, depth=depth, routes=routes)
    senders = [LinkSender(colors, streams.get(p, ())) for p in PORTS]
    return simulate_router(model, senders, Backpressure(seed, colors, **rates))


def test_wavelet_bits_round_trip():
    w = Wavelet.half(color=23, value=0xBEEF, index=0x1234, control=1)
    assert w.to_bits() == (1 << 37) | (23 << 32) | (0x1234 << 16) | 0xBEEF
    assert Wavelet.from_bits(w.to_bits()) == w
    assert (w.value, w.index) == (0xBEEF, 0x1234)


def test_functional_multicast_and_filter():
    routes = {0: Route(frozenset({Port.N}), frozenset({Port.S, Port.RAMP}), lo=5, hi=6)}
    stream = [Wavelet.half(0, v, i) for v, i in [(1, 4), (2, 5), (3, 6), (4, 7)]]
    stream.append(Wavelet.half(0, 9, 99, control=1))
    out = route_streams(routes, 1, {Port.N: stream})
    assert out[(Port.S, 0, Port.N)] == stream
    assert [w.value for w in out[(Port.RAMP, 0, Port.N)]] == [2, 3, 9]


def test_functional_ignores_colors_not_received_on_a_port():
    routes = {0: Route(frozenset({Port.N}), frozenset({Port.S}))}
    assert route_streams(routes, 1, {Port.E: [Wavelet(0, 1)]}) == {}


def test_hop_latency_is_one_cycle():
    routes = {0: Route(frozenset({Port.W}), frozenset({Port.E}))}
    cycles, emitted = run(routes, 1, {Port.W: [Wavelet(0, 42)]})
    # Accepted at the edge ending cycle 0, leaves at the edge ending cycle 1.
    assert emitted[Port.E] == [(1, Wavelet(0, 42))]
    assert cycles == 2


@pytest.mark.parametrize("depth,rate", [(1, 0.5), (2, 1.0), (4, 1.0)])
def test_saturated_throughput(depth, rate):
    n = 400
    routes = {c: Route(frozenset({Port(c)}), frozenset({Port((c + 1) % 5)})) for c in range(5)}
    streams = {Port(c): [Wavelet(c, i) for i in range(n)] for c in range(5)}
    cycles, emitted = run(routes, 5, streams, depth=depth)
    for q in PORTS:
        assert len(emitted[q]) == n
        first, last = emitted[q][0][0], emitted[q][-1][0]
        assert (n - 1) / (last - first) == pytest.approx(rate, rel=0.01)


def test_stalled_color_leaves_others_at_full_rate():
    routes = {c: Route(frozenset({Port.W}), frozenset({Port.E})) for c in range(2)}
    n = 300
    model = RouterModel(colors=2, depth=2, routes=routes)
    sender = LinkSender(2, [Wavelet(c, i) for i in range(n) for c in (0, 1)])
    senders = [LinkSender(2) for _ in PORTS]
    senders[Port.W] = sender
    bp = Backpressure(0, 2, stalled_colors=[0])
    out = []
    for cycle in range(n + 3):
        ready = [model.ready(p) for p in PORTS]
        offered = [s.offer(ready[p]) for p, s in enumerate(senders)]
        _, emitted = model.step(offered, [bp.ready(cycle, q) for q in PORTS])
        for p, s in enumerate(senders):
            s.commit(ready[p])
        if emitted[Port.E]:
            out.append(emitted[Port.E])
    assert len(out) == n and all(w.color == 1 for w in out)
    assert model.buffered == 2  # color 0 holds its buffer, nothing more was taken


@pytest.mark.parametrize("seed", range(20))
def test_cycle_model_agrees_with_functional_model(seed):
    rng = random.Random(seed)
    colors = rng.choice([1, 2, 4, 8, 24])
    routes = random_routes(rng, colors)
    streams = random_streams(rng, routes, 600)
    _, emitted = run(routes, colors, streams, depth=rng.randint(1, 4), seed=seed,
                     pause_rate=0.3, stall_rate=0.4)
    source = {w.payload: Port(p) for p, ws in streams.items() for w in ws}
    got = {}
    for q in PORTS:
        for _, w in emitted[q]:
            got.setdefault((q, w.color, source[w.payload]), []).append(w)
    assert got == route_streams(routes, colors, streams)


def test_undrainable_route_is_reported():
    model = RouterModel(colors=1, depth=2, routes={0: Route(frozenset({Port.N}),
                                                            frozenset({Port.S}))})
    senders = [LinkSender(1) for _ in PORTS]
    senders[Port.N].push(Wavelet(0, 1))
    with pytest.raises(RuntimeError, match=r"^Router did not drain within 50 cycles$"):
        simulate_router(model, senders, Backpressure(0, 1, stall_rate=1.0), max_cycles=50)


def test_backpressure_is_reproducible():
    a, b = Backpressure(7, 4, pause_rate=0.5, stall_rate=0.5), Backpressure(7, 4, 5, 0.5, 0.5)
    cycles = [5000, 3, 9000, 3]
    assert [a.ready(c, 2) for c in cycles] == [b.ready(c, 2) for c in cycles]
    assert [a.pause(c, 1) for c in cycles] == [b.pause(c, 1) for c in cycles]
