"""Router regressions: cocotb on Verilator, checked cycle by cycle against the golden model."""

import pytest

from wafer_engine.rtl.params import ArrayParams
from wafer_engine.sw.flows.verilog import router_top, write_verilog
from wafer_engine.sw.sim.runner import run_cocotb, sim_dir

TB = "wafer_engine.tb.router.test_router"
#: The cocotb test that needs two colors: with one there is no other color to block.
STALLED = "stalled_color_does_not_block"

# colors x depth sweep; 12,000 random wavelets per set, plus directed tests. `make test` runs
# the default router (4 colors, depth 3, the first depth at full rate) and the corners around
# it: one color at depths 1 and 3, the most colors at the shallowest depth. The other sets, the
# same logic at other sizes, run in `make regress` (24 colors at depth 3 alone simulates for
# several minutes). The 24-color builds take longest, so they go first for pytest-xdist to
# overlap them.
SWEEP = [(colors, depth) for colors in (24, 4, 1) for depth in (1, 3, 4)]
CORNERS = {(24, 1), (4, 3), (1, 1), (1, 3)}


def _sweep(skip_one_color=False):
    params = []
    for colors, depth in SWEEP:
        marks = [] if (colors, depth) in CORNERS else [pytest.mark.regress]
        if skip_one_color and colors < 2:
            marks.append(pytest.mark.skip(reason=f"{STALLED} needs two colors, this router "
                                                 f"has {colors}"))
        params.append(pytest.param(colors, depth, id=f"c{colors}-d{depth}", marks=marks))
    return params


def run_router(colors, depth, **kwargs):
    """Run the router testbench on the Verilog of ``colors`` x ``depth``, one build per set."""
    return run_cocotb(unit="router", config_name=f"c{colors}_d{depth}",
                      verilog_path=lambda folder: write_verilog(
                          *router_top(ArrayParams.build(colors=colors, depth=depth)), folder),
                      toplevel="router", test_module=TB, **kwargs)


@pytest.mark.parametrize("colors,depth", _sweep())
def test_router(colors, depth):
    run_router(colors, depth, leave_out=STALLED,
               params={"colors": colors, "depth": depth, "seed": colors * 10 + depth,
                       "random_wavelets": 12_000})


@pytest.mark.parametrize("colors,depth", _sweep(skip_one_color=True))
def test_stalled_color_does_not_block(colors, depth):
    run_router(colors, depth, testcase=STALLED,
               params={"colors": colors, "depth": depth, "seed": colors * 10 + depth})


def test_lockstep_check_catches_a_mismatch():
    """The testbench is not vacuous: RTL built with depth 3 but modelled with depth 1 fails.
    It shares test_router[c1-d3]'s build."""
    with pytest.raises(AssertionError, match=r"input ready \[.*\] != model"):
        run_router(1, 3, testcase="random_traffic",
                   params={"colors": 1, "depth": 1, "seed": 5, "random_wavelets": 400})


def test_waves_written_where_documented():
    """`waves=True` (or WAVES=1) leaves a VCD in the simulation's build folder."""
    config = "waves"
    folder = sim_dir("router", config)
    (folder / "dump.vcd").unlink(missing_ok=True)
    verilog = write_verilog(*router_top(ArrayParams.build(colors=1, depth=2)), folder)
    run_cocotb(unit="router", config_name=config, verilog_path=verilog, toplevel="router",
               test_module=TB, testcase="hop_latency", waves=True,
               params={"colors": 1, "depth": 2})
    vcd = (folder / "dump.vcd").read_text()
    assert "$var" in vcd and "o__1__valid" in vcd
