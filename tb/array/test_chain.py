"""cocotb test of ``wafer_array``'s configuration chain: the load time measured on the RTL
(:meth:`wafer_engine.sw.sim.array_tb.ArrayTB.configure`) equals the model's prediction
(:func:`wafer_engine.fabric.model.config_model.run_chain`) for the GEMV and GEMM programs of
the array's size.

Parameters (WAFER_TB_PARAMS): rows, cols, pe (the PE parameters the Verilog was built with).
"""

import json
import os

import cocotb
import numpy as np

from wafer_engine.fabric.model.config_model import run_chain
from wafer_engine.fabric.workloads import gemv_program
from wafer_engine.fabric.workloads.gemm import gemm_program
from wafer_engine.sw.sim.array_tb import ArrayTB
from wafer_engine.rtl.params import ArrayParams

PARAMS = json.loads(os.environ.get("WAFER_TB_PARAMS", "{}"))
ROWS, COLS = PARAMS.get("rows", 1), PARAMS.get("cols", 1)


@cocotb.test()
async def chain_time_is_predicted(dut):
    """Measured and predicted configuration cycles agree exactly, program after program
    (the second loads over the first without a reset)."""
    rng = np.random.default_rng(5)
    pe = PARAMS.get("pe", {})
    works = [gemv_program(rng.standard_normal((3 * ROWS + 1, 2 * COLS + 1)), rng.standard_normal(2 * COLS + 1), ArrayParams.build(rows=ROWS, cols=COLS, **pe)),
             gemm_program(rng.standard_normal((ROWS + 2, COLS + 3)), rng.standard_normal((COLS + 3, ROWS + 1)), ArrayParams.build(rows=ROWS, cols=COLS, **pe))]
    for k, work in enumerate(works):
        tb = ArrayTB(dut, work.program)
        if k == 0:
            await tb.reset()
        words = work.program.config_words()
        measured = await tb.configure()
        predicted, _ = run_chain(ROWS * COLS, words)
        assert measured == predicted, \
            f"program {k}: {measured} cycles on the RTL, {predicted} predicted"
        # The chain costs more than one cycle per word: a count of words would not pass.
        assert measured > len(words), (measured, len(words))


@cocotb.test()
async def chain_time_sees_a_stall(dut):
    """The measurement follows the RTL, not the prediction: one cycle without a word in the
    middle of the load delays the chain, and the count, by exactly one cycle, so comparing it
    with the back-to-back prediction fails."""
    rng = np.random.default_rng(6)
    work = gemv_program(rng.standard_normal((ROWS + 1, COLS + 1)), rng.standard_normal(COLS + 1),
                        ArrayParams.build(rows=ROWS, cols=COLS, **PARAMS.get("pe", {})))
    tb = ArrayTB(dut, work.program)
    await tb.reset()
    predicted, _ = run_chain(ROWS * COLS, work.program.config_words())
    assert await tb.configure() == predicted
    assert await tb.configure(pauses={2}) == predicted + 1
