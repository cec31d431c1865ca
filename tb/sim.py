"""Build a Verilog top with Verilator and run a cocotb test module on it, from pytest."""

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

from cocotb_tools.runner import get_runner

from .verilator import BUILD_DIR, WAIVERS, install_launcher

__all__ = ["run_cocotb", "sim_dir"]

#: Make variables that compile the Verilated model without C++ optimisation.
_NO_OPT = "OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0"


def sim_dir(unit, config_name):
    """Build and run folder of one unit under test and one parameter set."""
    return BUILD_DIR / "sim" / unit / config_name


def run_cocotb(*, unit, config_name, verilog_path, toplevel, test_module, params=None,
               testcase=None, waves=None, optimize=False):
    """Build ``verilog_path`` (top ``toplevel``) and run cocotb ``test_module`` against it.

    ``params`` (a JSON-serialisable dict) reaches the test through the ``WAFER_TB_PARAMS``
    environment variable. Waveforms (VCD) are written to ``sim_dir(unit, config_name)/dump.vcd``
    when ``waves`` is true or the environment has ``WAVES=1``. ``optimize`` compiles the model
    with the C++ compiler's default optimisation; without it the model is compiled with ``-O0``,
    several times faster to build, which pays off wherever the Python testbench, not the model,
    sets the pace. Raises ``AssertionError`` if any cocotb test failed. Returns the path of the
    results XML.
    """
    install_launcher()
    if waves is None:
        waves = os.environ.get("WAVES", "0") not in ("", "0")
    build_dir = sim_dir(unit, config_name)
    runner = get_runner("verilator")
    makeflags = os.environ.get("MAKEFLAGS", "")
    if not optimize:
        os.environ["MAKEFLAGS"] = f"{makeflags} {_NO_OPT}".strip()
    try:
        runner.build(
            sources=[Path(verilog_path)],
            hdl_toplevel=toplevel,
            build_dir=build_dir,
            build_args=["-Wno-fatal"] + [f"-Wno-{w}" for w in WAIVERS],
            waves=waves,
            timescale=("1ns", "1ps"),
        )
    finally:
        os.environ["MAKEFLAGS"] = makeflags
    results = runner.test(
        test_module=test_module,
        hdl_toplevel=toplevel,
        build_dir=build_dir,
        test_dir=build_dir,
        testcase=testcase,
        waves=waves,
        extra_env={"WAFER_TB_PARAMS": json.dumps(params or {})},
        timescale=("1ns", "1ps"),
    )
    failures = _count_failures(results)
    assert failures == 0, f"{failures} cocotb test(s) failed; see {results}"
    return results


def _count_failures(results_xml):
    """Failed or errored test cases in a cocotb results file; an empty file counts as one."""
    cases = list(ET.parse(results_xml).getroot().iter("testcase"))
    if not cases:
        return 1
    return sum(1 for case in cases
               if case.find("failure") is not None or case.find("error") is not None)
