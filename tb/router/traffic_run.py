"""cocotb module: one random-traffic run on the router RTL, in lockstep with the cycle model.

Parameters (WAFER_TB_PARAMS): colors, depth, seed, wavelets, pause_rate, stall_rate, results.
The routes and streams come from :func:`traffic`, so a caller can rebuild them from the seed.
"""

import json
import os
import random

import cocotb

from wafer_engine.fabric.model.traffic import Backpressure

from wafer_engine.tb.router.scenarios import random_routes, random_streams
from wafer_engine.tb.router.tb import RouterTB


def traffic(colors, seed, wavelets):
    """The seeded random route table and input streams of one run."""
    rng = random.Random(seed)
    routes = random_routes(rng, colors)
    return routes, random_streams(rng, routes, wavelets)


@cocotb.test()
async def traffic_run(dut):
    params = json.loads(os.environ["WAFER_TB_PARAMS"])
    colors, depth = params["colors"], params["depth"]
    routes, streams = traffic(colors, params["seed"], params["wavelets"])
    tb = RouterTB(dut, colors, depth)
    await tb.reset()
    await tb.configure(routes)
    bp = Backpressure(params["seed"], colors, pause_rate=params["pause_rate"],
                      stall_rate=params["stall_rate"])
    run = await tb.run(streams, bp)
    with open(params["results"], "w") as f:
        json.dump({"cycles": run.cycles,
                   "in": [len(a) for a in run.accepted],
                   "out": [len(e) for e in run.emitted]}, f)
