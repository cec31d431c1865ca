"""cocotb benchmarks of the router RTL; results go to the JSON file named in the parameters.

Run through ``python -m wafer_engine.tb.bench.router`` (``make bench``), which formats docs/results.md.
"""

import json
import os

import cocotb

from wafer_engine.fabric.model.traffic import Backpressure
from wafer_engine.fabric.model.wavelet import Wavelet
from wafer_engine.rtl.ports import PORTS, Port
from wafer_engine.rtl.route import Route

from wafer_engine.tb.bench.results import record
from wafer_engine.tb.router.scenarios import all_paths
from wafer_engine.tb.router.tb import RouterTB

PARAMS = json.loads(os.environ.get("WAFER_TB_PARAMS", "{}"))
COLORS, DEPTH = PARAMS["colors"], PARAMS["depth"]
WAVELETS = PARAMS.get("wavelets", 2000)


def _rate(transfers):
    """Wavelets per cycle over a list of ``(cycle, wavelet)``, first to last transfer."""
    if len(transfers) < 2:
        return float("nan")
    return (len(transfers) - 1) / (transfers[-1][0] - transfers[0][0])


@cocotb.test()
async def saturation(dut):
    """All five outputs busy at once: input p sends color p to output p + 1 (a permutation),
    receivers always ready."""
    tb = RouterTB(dut, COLORS, DEPTH)
    await tb.reset()
    routes = {c: Route(frozenset({Port(c)}), frozenset({Port((c + 1) % 5)})) for c in range(5)}
    await tb.configure(routes)
    streams = {Port(c): [Wavelet(c, i) for i in range(WAVELETS)] for c in range(5)}
    run = await tb.run(streams, Backpressure(0, COLORS))
    record(PARAMS["results"], "saturation", {q.name: _rate(run.emitted[q]) for q in PORTS})


@cocotb.test()
async def latency(dut):
    """Zero-load latency, input transfer to output transfer, on all 20 paths and a 4-way
    multicast."""
    tb = RouterTB(dut, COLORS, DEPTH)
    await tb.reset()
    latencies = []
    for i, (p, q) in enumerate(all_paths()):
        await tb.configure({0: Route(frozenset({p}), frozenset({q}))})
        run = await tb.run({p: [Wavelet(0, i)]}, Backpressure(0, COLORS))
        latencies.append(run.emitted[q][0][0] - run.accepted[p][0][0])
    tx = frozenset(PORTS) - {Port.RAMP}
    await tb.configure({0: Route(frozenset({Port.RAMP}), tx)})
    run = await tb.run({Port.RAMP: [Wavelet(0, 99)]}, Backpressure(0, COLORS))
    multicast = [run.emitted[q][0][0] - run.accepted[Port.RAMP][0][0] for q in tx]
    record(PARAMS["results"], "latency", {"paths": latencies, "multicast": multicast})


@cocotb.test()
async def stalled_color(dut):
    """Colors 0 and 1 share the W->E link; color 0's receiver never becomes ready."""
    tb = RouterTB(dut, COLORS, DEPTH)
    await tb.reset()
    routes = {c: Route(frozenset({Port.W}), frozenset({Port.E})) for c in (0, 1)}
    await tb.configure(routes)
    streams = {Port.W: [Wavelet(c, i) for i in range(WAVELETS) for c in (0, 1)]}
    run = await tb.run(streams, Backpressure(0, COLORS, stalled_colors=[0]),
                       until=lambda e: len(e[Port.E]) == WAVELETS)
    assert all(w.color == 1 for _, w in run.emitted[Port.E])
    record(PARAMS["results"], "stalled_color", {"color1_rate": _rate(run.emitted[Port.E]),
                              "color1_wavelets": len(run.emitted[Port.E]),
                              "color0_buffered": tb.model.buffered})
    # Release color 0 so the run ends drained.
    await tb.run({}, Backpressure(0, COLORS))
