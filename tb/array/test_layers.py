"""cocotb tests of ``wafer_array`` running two GEMM layers, layer 1's results scattered back
into each row as layer 2's resident X (fabric/workloads/layers.py), in lockstep with the model.

Parameters (WAFER_TB_PARAMS): rows, cols, seed, m, n, batch (layer 1: W1 is m x n, X is
n x batch), m2 (rows of W2), pe (the PE parameters the Verilog was built with), layer_runs
(list of ``[density, relu2]``), record (JSON file for the cycle records, optional).
"""

import json
import os

import cocotb
import numpy as np

from wafer_engine.rtl.params import ArrayParams
from wafer_engine.fabric.workloads.error_bound import chain_additions, reference_bound
from wafer_engine.fabric.fast.gemm import gemm_fast
from wafer_engine.fabric.workloads.gemm import collect_matrix
from wafer_engine.fabric.workloads.layers import load_program, run_stages, two_layer_program

from wafer_engine.tb.bench.rtl_cycles import record_run
from wafer_engine.sw.sim.array_tb import ArrayTB, check_counters

PARAMS = json.loads(os.environ.get("WAFER_TB_PARAMS", "{}"))
ROWS, COLS = PARAMS.get("rows", 2), PARAMS.get("cols", 2)
SEED = PARAMS.get("seed", 1)


def operands(rng, density):
    m1, n, batch = PARAMS.get("m", 5), PARAMS.get("n", 2 * COLS + 1), PARAMS.get("batch", ROWS)
    m2 = PARAMS.get("m2", 4)
    w1 = rng.standard_normal((m1, n)) * (rng.random((m1, n)) < density)
    x = rng.standard_normal((n, batch))
    w2 = rng.standard_normal((m2, m1)) * (rng.random((m2, m1)) < density)
    return w1, x, w2


async def run_stages_rtl(tb, stages, programs=None):
    """Configure each stage's program through the chain (the RTL's from ``programs`` if
    given, the model's from ``stages``), then run its phases in lockstep; phase cycles."""
    cycles = []
    for k, stage in enumerate(stages):
        rtl_program = programs[k] if programs else stage.work.program
        if k:
            load_program(tb.model, stage.work.program)
        tb.program = rtl_program
        await tb.configure()
        for phase in stage.work.phases:
            cycles.append(await tb.run_phase(phase))
    return cycles


@cocotb.test(skip=COLS < 2)
async def two_layers(dut):
    """Random sparse W1, W2: every link and edge bit-exact with the model every cycle, each
    phase's cycles as a fresh model predicts, counters equal, Y2 bit-exact with the fast
    model's two GEMMs and close to float64. Skipped on one column, where the mapping is
    refused (tests/test_array_layers.py checks the refusal)."""
    rng = np.random.default_rng(SEED + 7)
    pe = PARAMS.get("pe", {})
    base = {}
    for run, (density, relu2) in enumerate(PARAMS.get("layer_runs", [[1.0, False],
                                                                     [0.3, True]])):
        w1, x, w2 = operands(rng, density)
        stages = two_layer_program(w1, x, w2, ArrayParams.build(rows=ROWS, cols=COLS, **pe), relu2=relu2)
        _, predicted, span = run_stages(stages)
        tb = ArrayTB(dut, stages[0].work.program)
        if run == 0:
            await tb.reset()
        cycles = await run_stages_rtl(tb, stages)
        assert cycles == predicted, (cycles, predicted)
        rtl = record_run(PARAMS.get("record"), f"two layers {ROWS}x{COLS}, W density "
                         f"{density}, ReLU2 {relu2}", tb, span)
        dut._log.info(f"density {density} relu2 {relu2}: phase cycles {cycles}, span {rtl}")
        assert rtl == span, (rtl, span)

        check_counters(tb, base)

        m2, batch = w2.shape[0], x.shape[1]
        y2 = collect_matrix([tb.model.outputs[o] for o in stages[-1].work.outputs], m2, batch)
        y1, _ = gemm_fast(w1, x, ArrayParams.build(rows=ROWS, cols=COLS, **pe), relu=True)
        want, _ = gemm_fast(w2, y1, ArrayParams.build(rows=ROWS, cols=COLS - 1, **pe), relu=relu2)
        assert np.array_equal(y2.view(np.uint32), want.view(np.uint32))
        ref1, bound1 = reference_bound(w1, x, chain_additions(x.shape[0], COLS), relu=True)
        assert np.all(np.abs(y1 - ref1) <= bound1), np.max(np.abs(y1 - ref1) / bound1)
        # Layer 2 multiplies the fp16 Y1 the fabric stored, on COLS - 1 columns.
        ref2, bound2 = reference_bound(w2, y1, chain_additions(w1.shape[0], COLS - 1), relu2)
        assert np.all(np.abs(y2 - ref2) <= bound2), np.max(np.abs(y2 - ref2) / bound2)


@cocotb.test()
async def scatter_mismatch_is_caught(dut):
    """The lockstep check is live for the scatter: the RTL's scatter stage drops ReLU, the
    model's keeps it, so the first negative result of layer 1 must be flagged on a link."""
    if COLS == 1:
        return
    rng = np.random.default_rng(SEED + 8)
    pe = PARAMS.get("pe", {})
    w1, x, w2 = operands(rng, 1.0)
    model_stages = two_layer_program(w1, x, w2, ArrayParams.build(rows=ROWS, cols=COLS, **pe))
    rtl_stages = two_layer_program(w1, x, w2, ArrayParams.build(rows=ROWS, cols=COLS, **pe), relu1=False)
    tb = ArrayTB(dut, model_stages[0].work.program)
    await tb.reset()
    try:
        await run_stages_rtl(tb, model_stages[:2], [s.work.program for s in rtl_stages[:2]])
    except AssertionError as exc:
        assert "link" in str(exc), exc     # inside the array: the scatter runs west
        dut._log.info(f"caught as expected: {exc}")
    else:
        raise AssertionError("RTL without ReLU and model with it ran the scatter in lockstep")
