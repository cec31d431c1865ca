"""Array regressions: wafer_array on Verilator, configured through its chain, running the sparse
GEMV, the weight-streaming GEMM and two GEMM layers with the scatter back into the rows, in
lockstep with the array golden model (every link, every cycle; each phase ends only once the
RTL, too, is quiet), and timing the configuration chain on the RTL against the model's
prediction. One build per array size serves all of them, in two simulations: the GEMV, the GEMM
and the chain timing in one, the two layers in the other. Each run records the RTL's cycles and the model's prediction in
build/results/rtl_cycles/ (see tb/bench/rtl_cycles.py)."""

import pytest

from wafer_engine.sw.flows.array_verilog import TOP_NAME, write_array_verilog
from wafer_engine.tb.bench.rtl_cycles import RECORD_DIR
from wafer_engine.sw.sim.runner import run_cocotb
from wafer_engine.rtl.params import ArrayParams

#: PE of the RTL builds: drains up to 512 accumulators (M x batch slice). Three colors, the
#: mappings' minimum: the router's buffers and arbiters scale with the color count, and the
#: 4 x 4 build is the slowest part of the suite.
PE = dict(colors=3, mem_words=1024, acc_words=1024, max_len=512)
#: (rows, cols, M, N, B) of the GEMM, and M2, the rows of W2 in the two-layer run (whose
#: layer 1 is that GEMM): uneven splits everywhere but 1x1; the 2x2 drain (40 x 3 = 120) is
#: longer than the default max_len of 64. On 1x1 the two-layer mapping is refused, so its
#: run is skipped.
CASES = [(1, 1, 6, 5, 3, 4), (2, 2, 40, 7, 5, 6), (3, 4, 9, 10, 7, 5), (4, 4, 13, 18, 10, 7)]


#: Array shapes simulated in `make regress` only: the 4x4 takes as long as the three smaller
#: shapes together, which already cover one tile, square and uneven splits.
REGRESS_SHAPES = {(4, 4)}


def _cases(needs_two_columns=False):
    params = []
    for case in CASES:
        rows, cols = case[:2]
        marks = [pytest.mark.regress] if (rows, cols) in REGRESS_SHAPES else []
        if needs_two_columns and cols < 2:
            marks.append(pytest.mark.skip(
                reason=f"the two-layer scatter needs at least 2 array columns, not {cols} "
                       "(its refusal is checked in tests/test_array_layers.py)"))
        params.append(pytest.param(*case, id=f"{rows}x{cols}", marks=marks))
    return params


def run_array(rows, cols, m, n, batch, m2, modules, record):
    """Run the cocotb ``modules`` of tb/array in one simulation of the ``rows`` x ``cols``
    build (one build per size, shared by every run of that size)."""
    config = f"{rows}x{cols}"
    run_cocotb(unit="array", config_name=config,
               verilog_path=lambda folder: write_array_verilog(
                   ArrayParams.build(rows=rows, cols=cols, **PE), folder)[0],
               toplevel=TOP_NAME,
               test_module=[f"wafer_engine.tb.array.{module}" for module in modules],
               params={"rows": rows, "cols": cols, "seed": 100 + rows * 10 + cols, "pe": PE,
                       "m": m, "n": n, "batch": batch, "runs": [[1.0, False], [0.25, True]],
                       "m2": m2, "layer_runs": [[1.0, False], [0.3, True]],
                       "record": str(RECORD_DIR / f"{config}{record}.json")})


@pytest.mark.parametrize("rows,cols,m,n,batch,m2", _cases())
def test_array(rows, cols, m, n, batch, m2):
    """The sparse GEMV, the weight-streaming GEMM, and the configuration chain's time measured
    on the RTL against the model's prediction."""
    run_array(rows, cols, m, n, batch, m2, ["test_array", "test_gemm", "test_chain"], "")


@pytest.mark.parametrize("rows,cols,m,n,batch,m2", _cases(needs_two_columns=True))
def test_array_two_layers(rows, cols, m, n, batch, m2):
    """Two GEMM layers, layer 1's results scattered back into the rows."""
    run_array(rows, cols, m, n, batch, m2, ["test_layers"], "_layers")


def test_a_cocotb_test_that_skips_itself_fails_the_run():
    """A run must not pass over a cocotb test that skipped itself (it would show as passed):
    two_layers skips itself on one column, so a run that does not leave it out fails."""
    with pytest.raises(AssertionError, match=r"^cocotb skipped two_layers in a run expected"):
        run_array(*CASES[0], ["test_layers"], "_layers")
