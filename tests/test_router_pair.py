"""The two-router timing top: its ports, its wiring, and its parameter checks."""

import re

import pytest
from amaranth.sim import Simulator

from wafer_engine.rtl.route import Route
from wafer_engine.rtl.router import HOP_CYCLES

from wafer_engine.tb.bench.router_pair import PAIRED, RouterPair


def test_paired_ports_are_internal():
    """Only the links that do not face the other router are ports of the pair."""
    pair = RouterPair(colors=2, depth=2)
    names = set(pair.signature.members)
    assert {"a_i_n", "a_o_ramp", "b_i_e", "b_o_s", "a_cfg", "b_cfg"} <= names
    for r, port in PAIRED.items():
        assert f"{r}_i_{port.name.lower()}" not in names
        assert f"{r}_o_{port.name.lower()}" not in names
    assert len(names) == 2 * (2 * 4 + 1)


def _run_pair(b_rx="W"):
    """Route color 0 from a's N input to b's S output (a: N -> E, b: ``b_rx`` -> S), send one
    wavelet and return ``[(cycle, payload)]`` for what leaves b's S output within 10 cycles."""
    pair = RouterPair(colors=1, depth=2)
    sim = Simulator(pair)
    sim.add_clock(1e-6)
    seen = []

    async def bench(ctx):
        for cfg, route in ((pair.a_cfg, Route(rx={"N"}, tx={"E"})),
                           (pair.b_cfg, Route(rx={b_rx}, tx={"S"}))):
            ctx.set(cfg.valid, 1)
            ctx.set(cfg.color, 0)
            ctx.set(cfg.route, route.validated(0).as_entry())
        await ctx.tick()
        ctx.set(pair.a_cfg.valid, 0)
        ctx.set(pair.b_cfg.valid, 0)
        ctx.set(pair.b_o_s.ready, 1)
        ctx.set(pair.a_i_n.valid, 1)
        ctx.set(pair.a_i_n.wavelet.payload.data, 0x1234)
        for cycle in range(10):
            if ctx.get(pair.b_o_s.valid):
                seen.append((cycle, ctx.get(pair.b_o_s.wavelet.payload.data)))
            await ctx.tick()
            ctx.set(pair.a_i_n.valid, 0)

    sim.add_testbench(bench)
    sim.run()
    return seen


def test_a_wavelet_crosses_from_one_router_to_the_other():
    """Two cycles per router: accepted by a at edge 0, leaves a (into b) in cycle 2, leaves
    b's S output in cycle 4."""
    assert _run_pair() == [(2 * HOP_CYCLES, 0x1234)]


def test_the_crossing_check_sees_a_missing_link():
    """If b does not receive on the side facing a, nothing arrives: the check above fails."""
    assert _run_pair(b_rx="N") == []


@pytest.mark.parametrize("colors,depth,message", [
    (0, 2, "Color count must be an integer between 1 and 24, not 0"),
    (2, 0, "Buffer depth must be an integer between 1 and 64, not 0"),
])
def test_bad_parameters(colors, depth, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        RouterPair(colors=colors, depth=depth)
