"""cocotb test of ``wafer_array`` running the weight-streaming GEMM in lockstep with the model.

Parameters (WAFER_TB_PARAMS): rows, cols, seed, m, n, batch, pe (the PE parameters the Verilog
was built with, ``colors`` included), runs (list of ``[density, relu]``), record (JSON file
for the cycle records, optional).
"""

import json
import os

import cocotb
import numpy as np

from wafer_engine.fabric.model.array_model import ArrayModel
from wafer_engine.fabric.workloads.error_bound import chain_additions, reference_bound
from wafer_engine.fabric.workloads.common import to_fp16_bits
from wafer_engine.fabric.workloads.gemm import collect_matrix, gemm_program

from wafer_engine.sw.backends.run import run_golden

from wafer_engine.tb.bench.rtl_cycles import record_run
from wafer_engine.sw.sim.array_tb import ArrayTB, check_counters
from wafer_engine.rtl.params import ArrayParams

PARAMS = json.loads(os.environ.get("WAFER_TB_PARAMS", "{}"))
ROWS, COLS = PARAMS.get("rows", 2), PARAMS.get("cols", 2)
SEED = PARAMS.get("seed", 1)


@cocotb.test()
async def gemm(dut):
    """Random sparse W: every link and edge bit-exact with the model every cycle, the cycle
    count of each phase as a fresh model predicts, counters equal, Y close to float64."""
    rng = np.random.default_rng(SEED)
    m, n, batch = PARAMS.get("m", 5), PARAMS.get("n", 2 * COLS + 1), PARAMS.get("batch", ROWS)
    pe = PARAMS.get("pe", {})
    base = {}       # the RTL counters keep counting across runs; the model starts at 0
    for run, (density, relu) in enumerate(PARAMS.get("runs", [[1.0, False], [0.25, True]])):
        w = rng.standard_normal((m, n)) * (rng.random((m, n)) < density)
        x = rng.standard_normal((n, batch))
        work = gemm_program(w, x, ArrayParams.build(rows=ROWS, cols=COLS, **pe), relu=relu)
        oracle = ArrayModel(work.program)      # predicts the cycle counts before the RTL runs
        predicted = [oracle.run(phase) for phase in work.phases]
        tb = ArrayTB(dut, work.program)
        if run == 0:
            await tb.reset()
        await tb.configure()
        cycles = [await tb.run_phase(phase) for phase in work.phases]
        assert cycles == predicted, (cycles, predicted)
        dut._log.info(f"density {density} relu {relu}: phase cycles {cycles}")
        span = run_golden(work).cycles
        rtl = record_run(PARAMS.get("record"), f"GEMM {ROWS}x{COLS}, W {m} x {n}, X {n} x "
                         f"{batch}, W density {density}, ReLU {relu}", tb, span)
        assert rtl == span, (rtl, span)

        macs = check_counters(tb, base)
        # Every non-zero weight ran |B_r| FMACs in every row: sum over rows gives B.
        nonzero = int(np.count_nonzero(to_fp16_bits(w) & 0x7FFF))
        assert macs == nonzero * batch, (macs, nonzero, batch)

        y = collect_matrix([tb.model.outputs[o] for o in work.outputs], m, batch)
        ref, bound = reference_bound(w, x, chain_additions(n, COLS), relu)
        assert np.all(np.abs(y - ref) <= bound), np.max(np.abs(y - ref) / bound)
        if relu:
            assert np.all(y >= 0)


@cocotb.test()
async def gemm_mismatch_is_caught(dut):
    """The lockstep check is live: the RTL gets the ReLU program, the model the plain one.
    The weight phase agrees; the reduction must fail at the first negative result."""
    rng = np.random.default_rng(SEED + 1)
    m, n, batch = PARAMS.get("m", 5), PARAMS.get("n", 2 * COLS + 1), PARAMS.get("batch", ROWS)
    pe = PARAMS.get("pe", {})
    w, x = rng.standard_normal((m, n)), rng.standard_normal((n, batch))
    plain, relu = (gemm_program(w, x, ArrayParams.build(rows=ROWS, cols=COLS, **pe), relu=r) for r in (False, True))
    tb = ArrayTB(dut, relu.program)
    tb.model = ArrayModel(plain.program)
    await tb.reset()
    await tb.configure()
    await tb.run_phase(plain.phases[0])
    try:
        await tb.run_phase(plain.phases[1])
    except AssertionError as exc:
        assert "out" in str(exc), exc     # an east-edge output, not a link inside the array
        dut._log.info(f"caught as expected: {exc}")
    else:
        raise AssertionError("RTL with ReLU and model without it ran in lockstep")
