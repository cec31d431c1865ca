"""Build a Verilog top with Verilator and run a cocotb test module on it, from pytest."""

import contextlib
import fcntl
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from cocotb_tools.runner import get_runner

from wafer_engine.sw.progress import Progress
from wafer_engine.sw.sim.verilator import BUILD_DIR, WAIVERS, install_launcher, verilator_root

__all__ = ["run_cocotb", "build", "sim_dir"]

#: Make variables that compile the Verilated model without C++ optimisation.
_NO_OPT = "OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0"
#: What a finished build in a folder was made from (see :func:`build`).
_STAMP = "build.json"


def sim_dir(unit, config_name):
    """Build and run folder of one unit under test and one parameter set."""
    return BUILD_DIR / "sim" / unit / config_name


def run_cocotb(*, unit, config_name, verilog_path, toplevel, test_module, params=None,
               testcase=None, leave_out=None, waves=None, optimize=False):
    """Build ``verilog_path`` (top ``toplevel``) and run cocotb ``test_module`` (a module name
    or a list of them, run in one simulation) against it.

    ``verilog_path`` is a path, or a function that writes the Verilog into the folder it is
    given and returns its path; :func:`build` calls it under the folder's lock, so runs that
    share a configuration never write its Verilog at the same time.
    ``testcase`` (a name or a list) runs only those cocotb tests; ``leave_out`` (a name or a
    list) runs all but those. ``params`` (a JSON-serialisable dict) reaches the test through
    the ``WAFER_TB_PARAMS`` environment variable. Waveforms (VCD) are written to
    ``sim_dir(unit, config_name)/dump.vcd`` when ``waves`` is true or the environment has
    ``WAVES=1``. Build and simulation output go to ``build.log`` and ``<test module>.log``
    (``<test module>-<testcase>.log`` for a selection) in that folder. ``optimize`` compiles
    the model with the C++ compiler's default optimisation; without it the model is compiled
    with ``-O0``, several times faster to build, which pays off wherever the Python testbench,
    not the model, sets the pace.

    Runs that name the same ``unit`` and ``config_name`` share one build (see :func:`build`)
    and may run at the same time, from several pytest-xdist workers; two runs of the same
    selection in one folder take turns. Raises ``AssertionError`` if any cocotb test failed or
    skipped itself, or none ran. Returns the path of the results XML.
    """
    if waves is None:
        waves = os.environ.get("WAVES", "0") not in ("", "0")
    if testcase is not None and leave_out is not None:
        raise ValueError("Give either testcase or leave_out, not both")
    runner, build_dir = build(unit=unit, config_name=config_name, verilog_path=verilog_path,
                              toplevel=toplevel, waves=waves, optimize=optimize)
    modules = [test_module] if isinstance(test_module, str) else list(test_module)
    name = "_".join(m.rsplit(".", 1)[-1] for m in modules)
    test_filter = None
    if testcase is not None:
        names = [testcase] if isinstance(testcase, str) else list(testcase)
        name += "-" + "_".join(names)
        test_filter = r"\.(" + "|".join(re.escape(n) for n in names) + ")$"
    elif leave_out is not None:
        names = [leave_out] if isinstance(leave_out, str) else list(leave_out)
        name += "-without-" + "_".join(names)
        test_filter = r"^(?!.*\.(" + "|".join(re.escape(n) for n in names) + ")$)"
    log = build_dir / f"{name}.log"
    results = build_dir / f"{name}.results.xml"
    with _locked(build_dir / f"{name}.lock"):
        try:
            runner.test(
                test_module=modules,
                hdl_toplevel=toplevel,
                hdl_toplevel_lang="verilog",
                build_dir=build_dir,
                test_dir=build_dir,
                test_filter=test_filter,
                waves=waves,
                extra_env={"WAFER_TB_PARAMS": json.dumps(params or {})},
                timescale=("1ns", "1ps"),
                results_xml=str(results),
                log_file=log,
            )
        except SystemExit as exc:  # the runner exits when a test fails; report the failure
            raise AssertionError(f"cocotb tests failed (exit {exc.code}); see {log}:\n"
                                 f"{_failure_excerpt(log)}") from None
        if not results.exists():
            raise AssertionError(f"cocotb wrote no results; see {log}:\n"
                                 f"{_failure_excerpt(log, 'Error')}")
        failures = _count_failures(results)
    assert failures == 0, f"{failures} cocotb test(s) failed; see {log}:\n{_failure_excerpt(log)}"
    skipped = _skipped(results)
    # A cocotb test that skips itself would leave the pytest test passed without running it:
    # the caller must leave it out (testcase, leave_out) and report the skip to pytest.
    assert not skipped, (f"cocotb skipped {', '.join(skipped)} in a run expected to run it; "
                         f"see {log}")
    return results


#: Build folders whose reuse this process has already reported.
_REPORTED = set()


def build(*, unit, config_name, verilog_path, toplevel, waves=False, optimize=False,
          progress=None):
    """Build ``verilog_path`` with Verilator into ``sim_dir(unit, config_name)``; see
    :func:`run_cocotb` for ``verilog_path`` and ``optimize``. Returns ``(runner, build_dir)``.

    A folder holds one build: ``build.json`` records what it was made from (a digest of the
    Verilog, the top, the Verilator and compiler options, the Verilator and cocotb installs),
    and a call that asks for exactly that again returns at once. A call that changes only the
    Verilog rebuilds incrementally; one that changes the options first deletes the compiled
    objects, which make would otherwise keep. Builds of one folder take turns under a file
    lock, so several pytest-xdist workers may ask for the same configuration; the one that
    comes second waits and reuses the build. The Verilator runtime (``verilated*.o``), the
    same for every design, is compiled once per set of options and linked from
    ``sim/.runtime/`` in the build folder.

    ``progress`` (default: lines on stderr) is told which build starts, for which design and
    parameters, where it is cached, and how long it took, or that the cached one is reused.
    """
    install_launcher()
    build_dir = sim_dir(unit, config_name)
    build_dir.mkdir(parents=True, exist_ok=True)
    runner = get_runner("verilator")
    build_args = ["-Wno-fatal"] + [f"-Wno-{w}" for w in WAIVERS]
    stamp = build_dir / _STAMP
    with _locked(build_dir / "build.lock"):
        if callable(verilog_path):
            verilog_path = verilog_path(build_dir)
        want = {"verilog": hashlib.sha256(Path(verilog_path).read_bytes()).hexdigest(),
                "source": str(Path(verilog_path).resolve()), "toplevel": toplevel,
                "waves": bool(waves), "optimize": bool(optimize), "build_args": build_args,
                "tools": _tools()}
        have = _read_stamp(stamp)
        progress = Progress() if progress is None else progress
        what = f"Verilator build of {unit} {config_name} (top {toplevel})"
        if have == want and all((build_dir / f).exists() for f in (toplevel, "Vtop.mk")):
            if build_dir not in _REPORTED:     # once per process, not once per run
                progress.line(f"{what}: cached in {build_dir}, unchanged")
                _REPORTED.add(build_dir)
            return runner, build_dir
        stamp.unlink(missing_ok=True)
        if have is None or any(have.get(k) != want[k] for k in want if k != "verilog"):
            for stale in [build_dir / toplevel, *build_dir.glob("*.o"), *build_dir.glob("*.a")]:
                stale.unlink(missing_ok=True)
        runtime = _runtime_dir(want)
        makeflags = os.environ.get("MAKEFLAGS", "")
        extra = [] if optimize else [_NO_OPT]
        if (runtime / "link.rsp").exists():
            # Link the runtime compiled by an earlier build instead of compiling it again.
            extra.append(f"VM_GLOBAL_FAST= VM_GLOBAL_SLOW= LIBS=@{runtime / 'link.rsp'}")
        os.environ["MAKEFLAGS"] = " ".join([makeflags, *extra]).strip()
        try:
            with progress.stage(f"{what} in {build_dir}"):
                _build(runner, verilog_path, toplevel, build_dir, waves, build_args)
        finally:
            os.environ["MAKEFLAGS"] = makeflags
        _keep_runtime(build_dir, runtime)
        tmp = stamp.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(want, indent=1) + "\n")
        tmp.replace(stamp)
    return runner, build_dir


def _runtime_dir(want):
    """Folder of the Verilator runtime objects (``verilated*.o``) compiled for the options in
    ``want``: they do not depend on the design, only on the Verilator install, the options and
    the compiler, so one compile serves every build (about 5 CPU seconds each)."""
    key = {k: want[k] for k in ("waves", "optimize", "build_args", "tools")}
    key["cxx"] = os.environ.get("CXX", "c++")
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return BUILD_DIR / "sim" / ".runtime" / digest


def _tools():
    """The Verilator install (folder and binary date) and the cocotb version: a change to
    either makes every build stale."""
    root = verilator_root()
    return (f"{root} {(root / 'bin' / 'verilator').stat().st_mtime_ns} "
            f"cocotb {importlib.metadata.version('cocotb')}")


def _keep_runtime(build_dir, runtime):
    """After a build that compiled the runtime itself, keep its objects in ``runtime``."""
    objects = sorted(build_dir.glob("verilated*.o"))
    if (runtime / "link.rsp").exists() or not objects:
        return
    runtime.mkdir(parents=True, exist_ok=True)
    with _locked(runtime / "keep.lock"):
        if (runtime / "link.rsp").exists():
            return
        for obj in objects:
            tmp = runtime / f"{obj.name}.{os.getpid()}.tmp"
            shutil.copyfile(obj, tmp)
            tmp.replace(runtime / obj.name)
        tmp = runtime / f"link.rsp.{os.getpid()}.tmp"
        tmp.write_text("".join(f"{runtime / obj.name}\n" for obj in objects))
        tmp.replace(runtime / "link.rsp")


@contextlib.contextmanager
def _locked(path):
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the ``with`` block."""
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _read_stamp(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def _build(runner, verilog_path, toplevel, build_dir, waves, build_args):
    log = build_dir / "build.log"
    try:
        runner.build(
            sources=[Path(verilog_path)],
            hdl_toplevel=toplevel,
            build_dir=build_dir,
            build_args=build_args,
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


def _skipped(results_xml):
    """Names of the skipped test cases in a cocotb results file."""
    return [case.get("name") for case in ET.parse(results_xml).getroot().iter("testcase")
            if case.find("skipped") is not None]


def _failure_excerpt(log, marker=" failed", lines=60):
    """The lines of a log from its first line containing ``marker``, for assertion messages."""
    text = Path(log).read_text(errors="replace").splitlines() if Path(log).exists() else []
    for i, line in enumerate(text):
        if marker in line:
            return "\n".join(text[i:i + lines])
    return "\n".join(text[-lines:])
