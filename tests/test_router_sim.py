"""Router regressions: cocotb on Verilator, checked cycle by cycle against the golden model."""

import pytest

from wafer_engine.rtl.params import ArrayParams
from wafer_engine.sw.flows.verilog import router_top, write_verilog
from wafer_engine.sw.sim.runner import run_cocotb, sim_dir

# colors x depth sweep; 12,000 random wavelets per set, 108,000 in all, plus directed tests.
# The 24-color builds take longest, so they go first for pytest-xdist to overlap them.
SWEEP = [(colors, depth) for colors in (24, 4, 1) for depth in (1, 2, 4)]


@pytest.mark.parametrize("colors,depth", SWEEP, ids=[f"c{c}-d{d}" for c, d in SWEEP])
def test_router(colors, depth):
    config = f"c{colors}_d{depth}"
    verilog = write_verilog(*router_top(ArrayParams.build(colors=colors, depth=depth)), sim_dir("router", config))
    run_cocotb(unit="router", config_name=config, verilog_path=verilog, toplevel="router",
               test_module="wafer_engine.tb.router.test_router",
               params={"colors": colors, "depth": depth, "seed": colors * 10 + depth,
                       "random_wavelets": 12_000})


def test_lockstep_check_catches_a_mismatch():
    """The testbench is not vacuous: RTL built with depth 4 but modelled with depth 2 fails."""
    config = "mutant_depth"
    verilog = write_verilog(*router_top(ArrayParams.build(colors=1, depth=4)), sim_dir("router", config))
    with pytest.raises(AssertionError, match=r"input ready \[.*\] != model"):
        run_cocotb(unit="router", config_name=config, verilog_path=verilog, toplevel="router",
                   test_module="wafer_engine.tb.router.test_router", testcase="random_traffic",
                   params={"colors": 1, "depth": 2, "seed": 5, "random_wavelets": 400})


def test_waves_written_where_documented():
    """`waves=True` (or WAVES=1) leaves a VCD in the simulation's build folder."""
    config = "waves"
    folder = sim_dir("router", config)
    (folder / "dump.vcd").unlink(missing_ok=True)
    verilog = write_verilog(*router_top(ArrayParams.build(colors=1, depth=2)), folder)
    run_cocotb(unit="router", config_name=config, verilog_path=verilog, toplevel="router",
               test_module="wafer_engine.tb.router.test_router", testcase="hop_latency", waves=True,
               params={"colors": 1, "depth": 2})
    vcd = (folder / "dump.vcd").read_text()
    assert "$var" in vcd and "o__1__valid" in vcd
