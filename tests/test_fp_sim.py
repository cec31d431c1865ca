"""fp unit regressions: cocotb on Verilator, every result checked bit for bit against the model.

The default run drives 20,000 biased random operations per unit (plus every pair of corner
patterns) with random stalls and idle cycles; the ``regress`` run drives 1,000,000 per unit.
"""

import pytest

from wafer_engine.sw.flows.verilog import write_verilog
from wafer_engine.rtl.harness.fp_bench import FpBench
from wafer_engine.sw.sim.runner import run_cocotb, sim_dir


def run_fp(config, optimize=False, **params):
    """Build FpBench's Verilog and run wafer_engine.tb.fp.test_fp on it with ``params``."""
    verilog = write_verilog(FpBench(), "fp_bench", sim_dir("fp", config))
    run_cocotb(unit="fp", config_name=config, verilog_path=verilog, toplevel="fp_bench",
               test_module="wafer_engine.tb.fp.test_fp", params=params, optimize=optimize)


def test_fp_units():
    """Corner pairs plus 20,000 random operations per unit, 10 % stalls, 10 % idle cycles."""
    run_fp("default", seed=1, vectors=20_000, stall_rate=0.1, idle_rate=0.1)


@pytest.mark.regress
def test_fp_units_regress():
    """1,000,000 random operations per unit. Over a million cycles the optimised C++ build
    of the model pays for its longer compile."""
    run_fp("regress", optimize=True, seed=2, vectors=1_000_000, stall_rate=0.02,
           idle_rate=0.02)
