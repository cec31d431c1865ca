"""Build a Verilog top with Verilator and run a cocotb test module on it, from pytest."""

import json
import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from cocotb_tools.runner import get_runner

from wafer_engine.sw.sim.verilator import BUILD_DIR, WAIVERS, install_launcher

__all__ = ["run_cocotb", "build", "sim_dir"]

#: Make variables that compile the Verilated model without C++ optimisation.
_NO_OPT = "OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0"


def sim_dir(unit, config_name):
    """Build and run folder of one unit under test and one parameter set."""
    return BUILD_DIR / "sim" / unit / config_name


def run_cocotb(*, unit, config_name, verilog_path, toplevel, test_module, params=None,
               testcase=None, waves=None, optimize=False):
    """Build ``verilog_path`` (top ``toplevel``) and run cocotb ``test_module`` (a module name
    or a list of them, run in one simulation) against it.

    ``params`` (a JSON-serialisable dict) reaches the test through the ``WAFER_TB_PARAMS``
    environment variable. Waveforms (VCD) are written to ``sim_dir(unit, config_name)/dump.vcd``
    when ``waves`` is true or the environment has ``WAVES=1``. Build and simulation output go
    to ``build.log`` and ``<test module>.log`` in that folder. ``optimize`` compiles the model
    with the C++ compiler's default optimisation; without it the model is compiled with ``-O0``,
    several times faster to build, which pays off wherever the Python testbench, not the model,
    sets the pace. Raises ``AssertionError`` if any cocotb test failed. Returns the path of the
    results XML.
    """
    if waves is None:
        waves = os.environ.get("WAVES", "0") not in ("", "0")
    runner, build_dir = build(unit=unit, config_name=config_name, verilog_path=verilog_path,
                              toplevel=toplevel, waves=waves, optimize=optimize)
    modules = [test_module] if isinstance(test_module, str) else list(test_module)
    log = build_dir / ("_".join(m.rsplit(".", 1)[-1] for m in modules) + ".log")
    try:
        results = runner.test(
            test_module=modules,
            hdl_toplevel=toplevel,
            build_dir=build_dir,
            test_dir=build_dir,
            testcase=testcase,
            waves=waves,
            extra_env={"WAFER_TB_PARAMS": json.dumps(params or {})},
            timescale=("1ns", "1ps"),
            log_file=log,
        )
    except SystemExit as exc:  # the runner exits when a test fails; report the failure instead
        raise AssertionError(f"cocotb tests failed (exit {exc.code}); see {log}:\n"
                             f"{_failure_excerpt(log)}") from None
    if not Path(results).exists():
        raise AssertionError(f"cocotb wrote no results; see {log}:\n"
                             f"{_failure_excerpt(log, 'Error')}")
    failures = _count_failures(results)
    assert failures == 0, f"{failures} cocotb test(s) failed; see {log}:\n{_failure_excerpt(log)}"
    return results


def build(*, unit, config_name, verilog_path, toplevel, waves=False, optimize=False):
    """Build ``verilog_path`` with Verilator into ``sim_dir(unit, config_name)``; see
    :func:`run_cocotb` for ``optimize``. Returns ``(runner, build_dir)``."""
    install_launcher()
    build_dir = sim_dir(unit, config_name)
    runner = get_runner("verilator")
    makeflags = os.environ.get("MAKEFLAGS", "")
    if not optimize:
        os.environ["MAKEFLAGS"] = f"{makeflags} {_NO_OPT}".strip()
    try:
        _build(runner, verilog_path, toplevel, build_dir, waves)
    finally:
        os.environ["MAKEFLAGS"] = makeflags
    return runner, build_dir


def _build(runner, verilog_path, toplevel, build_dir, waves):
    log = build_dir / "build.log"
    build_dir.mkdir(parents=True, exist_ok=True)
    try:
        runner.build(
            sources=[Path(verilog_path)],
            hdl_toplevel=toplevel,
            build_dir=build_dir,
            build_args=["-Wno-fatal"] + [f"-Wno-{w}" for w in WAIVERS],
            waves=waves,
            timescale=("1ns", "1ps"),
            log_file=log,
        )
    except subprocess.CalledProcessError:
        raise AssertionError(f"Verilator build failed; see {log}:\n"
                             f"{_failure_excerpt(log, 'rror')}") from None


def _count_failures(results_xml):
    """Failed or errored test cases in a cocotb results file; an empty file counts as one."""
    cases = list(ET.parse(results_xml).getroot().iter("testcase"))
    if not cases:
        return 1
    return sum(1 for case in cases
               if case.find("failure") is not None or case.find("error") is not None)


def _failure_excerpt(log, marker=" failed", lines=60):
    """The lines of a log from its first line containing ``marker``, for assertion messages."""
    text = Path(log).read_text(errors="replace").splitlines() if Path(log).exists() else []
    for i, line in enumerate(text):
        if marker in line:
            return "\n".join(text[i:i + lines])
    return "\n".join(text[-lines:])
