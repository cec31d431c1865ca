"""Array regressions: wafer_array on Verilator, configured through its chain, running the sparse
GEMV, the weight-streaming GEMM and two GEMM layers with the scatter back into the rows, in
lockstep with the array golden model (every link, every cycle; each phase ends only once the
RTL, too, is quiet), and timing the configuration chain on the RTL against the model's
prediction. One build per array size serves all of them. Each run records the RTL's cycles
and the model's prediction in build/results/rtl_cycles/ (see tb/bench/rtl_cycles.py)."""

import pytest

from wafer_engine.sw.flows.array_verilog import TOP_NAME, write_array_verilog
from wafer_engine.tb.bench.rtl_cycles import RECORD_DIR
from wafer_engine.sw.sim.runner import run_cocotb, sim_dir
from wafer_engine.rtl.params import ArrayParams

#: PE of the RTL builds: drains up to 512 accumulators (M x batch slice). Three colors, the
#: mappings' minimum: the router's buffers and arbiters scale with the color count, and the
#: 4 x 4 build is the slowest part of the suite.
PE = dict(colors=3, mem_words=1024, acc_words=1024, max_len=512)
#: (rows, cols, M, N, B) of the GEMM, and M2, the rows of W2 in the two-layer run (whose
#: layer 1 is that GEMM): uneven splits everywhere but 1x1; the 2x2 drain (40 x 3 = 120) is
#: longer than the default max_len of 64. On 1x1 the two-layer mapping must be refused.
CASES = [(1, 1, 6, 5, 3, 4), (2, 2, 40, 7, 5, 6), (3, 4, 9, 10, 7, 5), (4, 4, 13, 18, 10, 7)]


@pytest.mark.parametrize("rows,cols,m,n,batch,m2", CASES,
                         ids=[f"{r}x{c}" for r, c, *_ in CASES])
def test_array(rows, cols, m, n, batch, m2):
    config = f"{rows}x{cols}"
    folder = sim_dir("array", config)
    verilog, _ = write_array_verilog(ArrayParams.build(rows=rows, cols=cols, **PE), folder)
    run_cocotb(unit="array", config_name=config, verilog_path=verilog, toplevel=TOP_NAME,
               test_module=[f"wafer_engine.tb.array.{name}" for name in
                            ("test_array", "test_gemm", "test_layers", "test_chain")],
               params={"rows": rows, "cols": cols, "seed": 100 + rows * 10 + cols, "pe": PE,
                       "m": m, "n": n, "batch": batch, "runs": [[1.0, False], [0.25, True]],
                       "m2": m2, "layer_runs": [[1.0, False], [0.3, True]],
                       "record": str(RECORD_DIR / f"{config}.json")})
