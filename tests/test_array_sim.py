"""Array regressions: wafer_array on Verilator, configured through its chain, in lockstep with
the array golden model."""

import pytest

from fabric.array import TOP_NAME, write_array_verilog
from tb.sim import run_cocotb, sim_dir

SIZES = [(1, 1), (2, 2), (3, 4)]


@pytest.mark.parametrize("rows,cols", SIZES, ids=[f"{r}x{c}" for r, c in SIZES])
def test_array_gemv(rows, cols):
    config = f"{rows}x{cols}"
    folder = sim_dir("array", config)
    verilog, _ = write_array_verilog(rows, cols, folder, colors=4, mem_words=1024,
                                     acc_words=256)
    run_cocotb(unit="array", config_name=config, verilog_path=verilog, toplevel=TOP_NAME,
               test_module="tb.array.test_array",
               params={"rows": rows, "cols": cols, "seed": rows * 10 + cols})
