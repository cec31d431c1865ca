"""cocotb module behind the Verilator backend: runs one pickled workload on ``wafer_array``
(configured through the chain, in lockstep with the model) and pickles what the RTL did.

Parameters (WAFER_TB_PARAMS): ``workload`` (pickle of a wafer_engine.fabric.workloads.Workload),
``result`` (where to write the result pickle).
"""

import json
import os
import pickle

import cocotb

from wafer_engine.sw.sim.array_tb import ArrayTB


@cocotb.test()
async def run_workload(dut):
    """Everything in the result is what the RTL did: outputs, span, counters, configuration
    cycles and wavelets taken in, all read on its signals."""
    params = json.loads(os.environ["WAFER_TB_PARAMS"])
    with open(params["workload"], "rb") as f:
        work = pickle.load(f)
    tb = ArrayTB(dut, work.program)
    await tb.reset()
    config_cycles = await tb.configure()
    for phase in work.phases:
        await tb.run_phase(phase)
    result = {
        "outputs": tb.observed,
        "first_in": tb.first_in,
        "last_out": tb.last_out,
        "end": tb.model.cycle,
        "counters": {tile: tb.counters(tile) for tile in tb.model.tiles},
        "config_cycles": config_cycles,
        "wavelets_in": tb.wavelets_in,
    }
    with open(params["result"], "wb") as f:
        pickle.dump(result, f)
