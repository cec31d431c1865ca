"""cocotb tests of the router; parameters arrive in WAFER_TB_PARAMS (see tests/test_router_sim.py)."""

import json
import os
import random

import cocotb

from wafer_engine.fabric.model.router_model import route_streams
from wafer_engine.fabric.model.traffic import Backpressure, LinkSender
from wafer_engine.fabric.model.wavelet import Wavelet
from wafer_engine.rtl.ports import PORTS, Port
from wafer_engine.rtl.route import Route

from wafer_engine.tb.router.scenarios import (SlowReceiver, UniquePayloads, all_paths,
                                               permutation_routes, random_routes, random_streams)
from wafer_engine.tb.router.tb import RouterTB
from wafer_engine.rtl.params import ArrayParams

PARAMS = json.loads(os.environ.get("WAFER_TB_PARAMS", "{}"))
#: The router under test: the default array's unless the run names its own.
COLORS = PARAMS.get("colors", ArrayParams().colors)
DEPTH = PARAMS.get("depth", ArrayParams().depth)
SEED = PARAMS.get("seed", 1)
RANDOM_WAVELETS = PARAMS.get("random_wavelets", 2000)


def check_functional(routes, streams, emitted):
    """Outputs match the functional model: per (output, color, source) the same sequence."""
    expected = route_streams(routes, COLORS, streams)
    source = {w.payload: Port(p) for p, ws in streams.items() for w in ws}
    got = {}
    for q in PORTS:
        for _, w in emitted[q]:
            got.setdefault((q, w.color, source[w.payload]), []).append(w)
    assert got == expected, "per-source output sequences differ from the functional model"


async def start(dut):
    tb = RouterTB(dut, COLORS, DEPTH)
    await tb.reset()
    return tb


@cocotb.test()
async def every_path(dut):
    """Each of the 20 input->output paths, on colors taken in turn, with backpressure."""
    tb = await start(dut)
    rng = random.Random(SEED)
    payload = UniquePayloads(rng)
    for i, (p, q) in enumerate(all_paths()):
        color = i % COLORS
        routes = {color: Route(frozenset({p}), frozenset({q}))}
        await tb.configure(routes)
        streams = {p: [Wavelet(color, payload()) for _ in range(20)]}
        bp = Backpressure(SEED + i, COLORS, pause_rate=0.2, stall_rate=0.2)
        _, emitted, _ = await tb.run(streams, bp)
        check_functional(routes, streams, emitted)
        assert len(emitted[q]) == 20
        await tb.configure({color: Route()})


@cocotb.test()
async def multicast(dut):
    """Multicast from one input to 2, 3 and 4 outputs (4 = every port but the input's own)."""
    tb = await start(dut)
    rng = random.Random(SEED)
    payload = UniquePayloads(rng)
    for fanout in (2, 3, 4):
        for p in PORTS:
            others = [q for q in PORTS if q != p]
            tx = frozenset(rng.sample(others, fanout))
            routes = {0: Route(frozenset({p}), tx)}
            await tb.configure(routes)
            streams = {p: [Wavelet(0, payload()) for _ in range(30)]}
            bp = Backpressure(SEED + fanout * 10 + p, COLORS, pause_rate=0.1, stall_rate=0.3)
            _, emitted, _ = await tb.run(streams, bp)
            check_functional(routes, streams, emitted)
            for q in tx:
                assert [w for _, w in emitted[q]] == streams[p]
            await tb.configure({0: Route()})


@cocotb.test()
async def range_filter(dut):
    """RAMP takes only data wavelets with index in [lo, hi]; control wavelets always pass; the
    other tx ports get everything."""
    tb = await start(dut)
    rng = random.Random(SEED)
    payload = UniquePayloads(rng)
    for lo, hi in ((0, 0), (100, 200), (0xFFFF, 0xFFFF), (0, 0xFFFF), (300, 300)):
        routes = {0: Route(frozenset({Port.N}), frozenset({Port.RAMP, Port.S}), lo, hi)}
        await tb.configure(routes)
        stream = [Wavelet(0, payload((max(lo - 2, 0), min(hi + 2, 0xFFFF))),
                          int(rng.random() < 0.1)) for _ in range(60)]
        bp = Backpressure(SEED + lo, COLORS, stall_rate=0.2)
        _, emitted, _ = await tb.run({Port.N: stream}, bp)
        check_functional(routes, {Port.N: stream}, emitted)
        ramp = [w for _, w in emitted[Port.RAMP]]
        assert ramp == [w for w in stream if w.control or lo <= w.index <= hi]
        assert [w for _, w in emitted[Port.S]] == stream


@cocotb.test()
async def random_traffic(dut):
    """Random routes (merges, multicast, filters), all five inputs busy, random pauses on the
    inputs and random per-color backpressure on all five outputs."""
    tb = await start(dut)
    rng = random.Random(SEED)
    rounds = 4
    for r in range(rounds):
        routes = random_routes(rng, COLORS)
        await tb.configure(routes)
        streams = random_streams(rng, routes, RANDOM_WAVELETS // rounds)
        bp = Backpressure(SEED * 100 + r, COLORS, pause_rate=0.3, stall_rate=0.4)
        _, emitted, _ = await tb.run(streams, bp)
        check_functional(routes, streams, emitted)


@cocotb.test(skip=COLORS < 2)
async def stalled_color_does_not_block(dut):
    """Color 0 is stalled at its output while color 1 crosses input W at full rate: first both
    on the same link W -> E, then color 0 to N and color 1 to E. Needs two colors; with one it
    is skipped (tests/test_router_sim.py leaves it out)."""
    tb = await start(dut)
    rng = random.Random(SEED)
    payload = UniquePayloads(rng)
    n = 200
    for stalled_out in (Port.E, Port.N):
        routes = {0: Route(frozenset({Port.W}), frozenset({stalled_out})),
                  1: Route(frozenset({Port.W}), frozenset({Port.E}))}
        await tb.configure(routes)
        streams = {Port.W: [Wavelet(c, payload()) for _ in range(n) for c in (0, 1)]}
        stalled = Backpressure(SEED, COLORS, stalled_colors=[0])
        # Run with color 0 stalled until every color-1 wavelet is out; the rest stays buffered.
        cycles, emitted, _ = await tb.run(streams, stalled,
                                          until=lambda emitted: len(emitted[Port.E]) == n)
        assert all(w.color == 1 for q in PORTS for _, w in emitted[q])
        if DEPTH >= 3:
            # The sender alternates colors until color 0's room is full (depth wavelets),
            # then sends color 1 only; color 0 is never presented (no output of its route is
            # ready), so the n-th color-1 wavelet leaves at cycle n + depth + 1 (two cycles
            # per hop): n + depth + 2 cycles, at least 90 % of full rate.
            assert cycles == n + DEPTH + 2, f"color 1 took {cycles} cycles for {n} wavelets"
            assert n / cycles >= 0.9
        assert tb.model.buffered == DEPTH
        # Release color 0: every stalled wavelet arrives, in order, none lost or duplicated.
        _, rest, _ = await tb.run({}, Backpressure(SEED, COLORS))
        everything = [w for _, w in emitted[Port.E]] + [w for _, w in rest[Port.E]]
        if stalled_out != Port.E:
            everything += [w for _, w in rest[stalled_out]]
        assert sorted(everything) == sorted(streams[Port.W])
        assert ([w for w in everything if w.color == 0]
                == [w for w in streams[Port.W] if w.color == 0])
        await tb.configure({0: Route(), 1: Route()})


@cocotb.test()
async def saturation(dut):
    """Every output busy at once (input c -> output c + 1, one color each, up to five), all
    receivers ready: a wavelet holds its color's room from the edge it is taken until the
    edge it leaves two cycles later, and ready sees the room again the cycle after, so
    ``depth`` wavelets go per max(depth, 3) cycles from cycle 2 on (every cycle at depth >= 3)."""
    tb = await start(dut)
    n = 100
    routes = permutation_routes(COLORS)
    await tb.configure(routes)
    streams = {Port(c): [Wavelet(c, c << 16 | i) for i in range(n)] for c in routes}
    run = await tb.run(streams, Backpressure(SEED, COLORS))
    for c, route in routes.items():
        (q,) = route.tx
        assert [t for t, _ in run.emitted[q]] == [2 + max(DEPTH, 3) * (k // DEPTH) + k % DEPTH
                                                  for k in range(n)]
        assert [w for _, w in run.emitted[q]] == streams[Port(c)]
    await tb.configure({c: Route() for c in routes})


@cocotb.test()
async def multicast_slow_receiver(dut):
    """Color 0 multicasts N -> E, S, RAMP; S is ready one cycle in four. S takes a wavelet in
    every cycle it is ready; E and RAMP get each head when it is presented (cycle 2 for the
    first, then the cycle after S took the previous one; three cycles after with depth 1: the
    next one is taken after the pop and spends a cycle in the arrival register)."""
    tb = await start(dut)
    n, period = 40, 4
    routes = {0: Route(frozenset({Port.N}), frozenset({Port.E, Port.S, Port.RAMP}))}
    await tb.configure(routes)
    stream = [Wavelet(0, 0x5000 + i) for i in range(n)]
    run = await tb.run({Port.N: stream}, SlowReceiver(COLORS, Port.S, period))
    s_cycles = [t for t in range(1, period * (n + 1)) if t % period == period - 1][:n]
    assert [t for t, _ in run.emitted[Port.S]] == s_cycles
    refill = 1 if DEPTH >= 2 else 3
    for q in (Port.E, Port.RAMP, Port.S):
        assert [w for _, w in run.emitted[q]] == stream
    for q in (Port.E, Port.RAMP):
        assert [t for t, _ in run.emitted[q]] == [2] + [t + refill for t in s_cycles[:-1]]
    await tb.configure({0: Route()})


@cocotb.test()
async def hop_latency(dut):
    """Zero-load latency on every path: accepted at one edge, out two edges later (the arrival
    register, then the buffer)."""
    tb = await start(dut)
    for i, (p, q) in enumerate(all_paths()):
        color = i % COLORS
        await tb.configure({color: Route(frozenset({p}), frozenset({q}))})
        run = await tb.run({p: [Wavelet(color, i)]}, Backpressure(SEED, COLORS))
        (t_in, _), = run.accepted[p]
        (t_out, _), = run.emitted[q]
        assert t_out - t_in == 2, f"{p.name}->{q.name}: {t_out - t_in} cycles"
        await tb.configure({color: Route()})


@cocotb.test()
async def unrouted_color_is_never_taken(dut):
    """A sender offering a color that its port does not receive (ready bit low) transfers
    nothing: the wavelet stays with the sender and never appears at an output."""
    tb = await start(dut)
    await tb.configure({0: Route(frozenset({Port.N}), frozenset({Port.S}))})
    stray = [Wavelet(0, 0xDEAD0000 + i) for i in range(3)]
    cycles = [0]

    def enough(emitted):
        cycles[0] += 1
        return cycles[0] > 40

    run = await tb.run({Port.E: stray}, Backpressure(SEED, COLORS), until=enough)
    assert all(not e for e in run.emitted) and not any(run.accepted)
    assert tb.senders[Port.E].pending == len(stray)
    tb.senders[Port.E] = LinkSender(COLORS)  # withdraw the stray wavelets
