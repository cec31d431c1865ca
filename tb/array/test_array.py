"""cocotb tests of ``wafer_array``: workloads from wafer_engine.fabric.workloads in lockstep with the model.

Parameters (WAFER_TB_PARAMS): rows, cols, seed, pe (the PE parameters the Verilog was built
with), gemv_m, gemv_n, densities, record (JSON file for the cycle records, optional).
"""

import json
import os

import cocotb
import numpy as np

from wafer_engine.fabric.workloads.error_bound import chain_additions, reference_bound
from wafer_engine.fabric.workloads import collect_vector, gemv_program

from wafer_engine.sw.backends.run import run_golden

from wafer_engine.tb.bench.rtl_cycles import record_run
from wafer_engine.sw.sim.array_tb import TIMING_FREE, ArrayTB
from wafer_engine.rtl.params import ArrayParams

PARAMS = json.loads(os.environ.get("WAFER_TB_PARAMS", "{}"))
ROWS, COLS = PARAMS.get("rows", 2), PARAMS.get("cols", 2)
SEED = PARAMS.get("seed", 1)


@cocotb.test()
async def gemv(dut):
    """Sparse GEMV (checkerboard): results bit-exact with the model, close to float64."""
    rng = np.random.default_rng(SEED)
    for density in PARAMS.get("densities", [1.0, 0.3]):
        m, n = PARAMS.get("gemv_m", 3 * ROWS + 1), PARAMS.get("gemv_n", 2 * COLS + 1)
        a = rng.standard_normal((m, n))
        x = rng.standard_normal(n) * (rng.random(n) < density)
        work = gemv_program(a, x, ArrayParams.build(rows=ROWS, cols=COLS, **PARAMS.get("pe", {})))
        tb = ArrayTB(dut, work.program)
        if density == PARAMS.get("densities", [1.0, 0.3])[0]:
            await tb.reset()
        await tb.configure()
        for phase in work.phases:
            await tb.run_phase(phase)
        for tile in tb.model.tiles:
            got, want = tb.counters(tile), tb.model.pes[tile].counters
            for name in TIMING_FREE:
                assert got[name] - tb_base(dut, tile, name) == want[name], (tile, name)
        # The RTL's span against a fresh model's prediction (also recorded for the results).
        predicted = run_golden(work).cycles
        rtl = record_run(PARAMS.get("record"), f"GEMV {ROWS}x{COLS}, A {m} x {n}, x density "
                         f"{density}", tb, predicted)
        assert rtl == predicted, (rtl, predicted)
        y = collect_vector([tb.model.outputs[o] for o in work.outputs], work.length)
        # fp16 operands, fp32 sums along the AXPYs and the chain, one fp16 rounding.
        ref, bound = reference_bound(a, x, chain_additions(n, COLS))
        assert np.all(np.abs(y - ref) <= bound), np.max(np.abs(y - ref) / bound)
        remember_counters(dut, tb)


_BASE = {}


def tb_base(dut, tile, name):
    """Counter values before this run (the RTL keeps counting across runs)."""
    return _BASE.get((tile, name), 0)


def remember_counters(dut, tb):
    for tile in tb.model.tiles:
        for name, value in tb.counters(tile).items():
            _BASE[(tile, name)] = value
