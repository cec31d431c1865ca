"""cocotb tests of the array testbench's quiet check on a 1x1 ``wafer_array``: a result the
RTL sends after the model went quiet must fail the run.

The mutant holds one result back from the model's view: the RTL runs a GEMV, the model the
same GEMV with the last row of A zeroed, so the model drops the last result (zeros are not
sent) and goes quiet while the RTL's last result is still on its way to the edge.

Parameters (WAFER_TB_PARAMS): pe (the PE parameters the Verilog was built with).
"""

import json
import os

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from wafer_engine.fabric.model.wavelet import Wavelet
from wafer_engine.fabric.workloads import gemv_program
from wafer_engine.sw.backends.run import run_golden
from wafer_engine.sw.sim import array_tb
from wafer_engine.sw.sim.array_tb import ArrayTB
from wafer_engine.rtl.params import ArrayParams

PARAMS = json.loads(os.environ.get("WAFER_TB_PARAMS", "{}"))


def _works():
    """``(rtl, model)``: the GEMV the RTL runs, and the one the mutant model runs."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((5, 4)) + 4.0       # every result far from zero
    x = rng.random(4) + 0.5
    held = a.copy()
    held[-1] = 0.0
    pe = PARAMS.get("pe", {})
    return gemv_program(a,
                        x,
                        ArrayParams.build(rows=1, cols=1, **pe)), gemv_program(held, x, ArrayParams.build(rows=1, cols=1, **pe))


async def _reset(dut):
    dut.rst.value = 1
    for _ in range(2):
        await RisingEdge(dut.clk)
    dut.rst.value = 0


async def _run(tb, work):
    await tb.configure()
    for phase in work.phases:
        await tb.run_phase(phase)


def _last_result(work):
    """The last wavelet the golden model sends for ``work``, and its edge."""
    outputs = run_golden(work).outputs
    edge = max((e for e in outputs if outputs[e]), key=lambda e: outputs[e][-1][0])
    return edge, outputs[edge][-1][1]


@cocotb.test()
async def late_output_fails(dut):
    rtl, model = _works()
    edge, late = _last_result(rtl)
    _, model_last = _last_result(model)
    assert late != model_last      # the mutant really holds the last result back

    # Control: the same workload on both sides passes the quiet check.
    tb = ArrayTB(dut, rtl.program)
    await tb.reset()
    await _run(tb, rtl)

    # The mutant without the quiet check (the phase ends with the model): it passes, and the
    # held-back result leaves the RTL afterwards, unseen by the run. This is the hole.
    await _reset(dut)
    tb = ArrayTB(dut, model.program)
    tb.program = rtl.program        # configure the RTL with the real workload
    saved, array_tb.QUIET_CYCLES = array_tb.QUIET_CYCLES, 0
    try:
        await _run(tb, model)
    finally:
        array_tb.QUIET_CYCLES = saved
    seen = []
    for cycle in range(4 * array_tb.QUIET_CYCLES):  # from the cycle the run ended in
        await ReadOnly()
        port = tb.outputs[edge]
        if int(port.valid.value):
            seen.append(Wavelet.from_bits(int(port.wavelet.value)))
            dut._log.info(f"unchecked run: {seen[-1]} left {cycle} cycles after it ended")
        await FallingEdge(dut.clk)
    assert seen == [late], f"unchecked run: after it ended the RTL sent {seen}, not {[late]}"

    # The mutant with the quiet check: the run fails, naming the late result.
    await _reset(dut)
    tb = ArrayTB(dut, model.program)
    tb.program = rtl.program
    try:
        await _run(tb, model)
    except AssertionError as exc:
        message = str(exc)
    else:
        raise AssertionError("the quiet check let a result sent after the model went "
                             "quiet pass")
    dut._log.info(f"checked run failed as it must: {message}")
    assert f"the RTL sent [({edge!r}, {late!r})] (edge, wavelet)" in message, message
    assert "after the model went quiet" in message, message
