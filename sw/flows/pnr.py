"""Synthesis and place-and-route of a Verilog design with YoWASP Yosys and nextpnr.

ECP5 designs are placed out of context (no pins: every port stays an internal net). nextpnr-ice40
has no out-of-context mode, so iCE40 designs go through a pin-limited wrapper
(:mod:`wafer_engine.sw.flows.pin_wrapper`). Modules named in ``keep`` (the array's ``tile``) keep their
hierarchy, so Yosys maps one tile however many times the array instantiates it; nextpnr flattens
the netlist itself. Command line::

    python -m wafer_engine.sw.flows.pnr build/verilog/wafer_array.v --top wafer_array --target ecp5-85k
"""

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

from wafer_engine.sw.flows.fpga_targets import target as find_target
from wafer_engine.sw.flows.synth import yosys_path
from wafer_engine.sw.progress import SILENT, nextpnr_status, run_tool

__all__ = ["synthesize", "check_fits", "place_and_route", "resources", "overflows",
           "CapacityError"]

#: Synthesis cell types, per family, that make up each reported resource. ``luts`` counts
#: logic cells as nextpnr does: an ECP5 CCU2C carry is two of them and a TRELLIS_DPR16X4
#: distributed RAM four (two RAM halves, their write port and data path), so the estimate from
#: synthesis is close to the placed count (within about 10 %; nextpnr adds route-through LUTs).
#: On iCE40 it is a lower bound: a flip-flop that cannot share a logic cell with the LUT
#: driving it takes a cell of its own, which only nextpnr's packer knows.
_CELL_COST = {
    "ecp5": {"luts": {"LUT4": 1, "CCU2C": 2, "TRELLIS_DPR16X4": 4},
             "ffs": {"TRELLIS_FF": 1}, "brams": {"DP16KD": 1},
             "dsps": {"MULT18X18D": 1, "ALU54B": 1}},
    "ice40": {"luts": {"SB_LUT4": 1}, "ffs": {"SB_DFF*": 1},
              "brams": {"SB_RAM40_4K": 1}, "dsps": {"SB_MAC16": 1}},
}
#: nextpnr's placed cell types for each resource (``ffs`` on iCE40 live inside logic cells,
#: so they come from synthesis).
_PLACED = {
    "ecp5": {"luts": ("TRELLIS_COMB",), "ffs": ("TRELLIS_FF",), "brams": ("DP16KD",),
             "dsps": ("MULT18X18D", "ALU54B")},
    "ice40": {"luts": ("ICESTORM_LC",), "brams": ("ICESTORM_RAM",), "dsps": ("ICESTORM_DSP",)},
}
_NOT_HARDWARE = ("$scopeinfo",)
_SYNTH = {"ecp5": "synth_ecp5", "ice40": "synth_ice40 -dsp"}
#: Yosys commands run before synthesis, per family. iCE40 has no distributed RAM: the memories
#: the RTL marks ``ram_style = "distributed"`` (for ECP5, where Yosys would otherwise build the
#: smallest from flip-flops) have no valid mapping there, so the mark is dropped and Yosys
#: picks what it can.
PRE_SYNTH = {"ecp5": "", "ice40": "setattr -unset ram_style m:*"}


class CapacityError(ValueError):
    """nextpnr found more cells of some type than the device has (it packs the design before
    placing it, so this comes within seconds)."""


_UTILISATION = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", re.M)


def overflows(log_text):
    """``["ICESTORM_LC 6636 > 5280", ...]``: cell types a nextpnr log reports over capacity."""
    return [f"{cell} {used} > {avail}" for cell, used, avail in _UTILISATION.findall(log_text)
            if int(used) > int(avail)]


def _rel(path, work):
    # YoWASP's sandbox maps the host's /tmp elsewhere: give every path relative to the
    # working folder, which is the tool's current directory.
    return os.path.relpath(Path(path).resolve(), work)




def resources(by_type, family):
    """``{luts, ffs, brams, dsps}`` from a synthesis ``{cell type: count}`` (see
    :data:`_CELL_COST`)."""
    out = {}
    for name, costs in _CELL_COST[family].items():
        total = 0
        for cell, cost in costs.items():
            if cell.endswith("*"):
                total += cost * sum(v for k, v in by_type.items() if k.startswith(cell[:-1]))
            else:
                total += cost * by_type.get(cell, 0)
        out[name] = total
    return out


def synthesize(verilog, top, family, work_dir, *, keep=(), progress=SILENT):
    """Synthesise ``verilog`` (a path or list of paths) with top ``top`` for ``family``
    (``"ecp5"``, ``"ice40"``; iCE40 with ``-dsp`` so multipliers use SB_MAC16).

    Writes ``<top>.json`` (the netlist), ``<top>_stat.json`` and ``<top>_synth.log`` into
    ``work_dir``. Returns ``{"netlist": path, "by_type": {cell: count}, "estimate": {luts,
    ffs, brams, dsps}, "seconds": wall time}``; counts are for the whole hierarchy.
    ``progress`` (:class:`~wafer_engine.sw.progress.Progress`) receives the tool's log.
    """
    files = [verilog] if isinstance(verilog, (str, Path)) else list(verilog)
    work = Path(work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    netlist, stat, log = work / f"{top}.json", work / f"{top}_stat.json", f"{top}_synth.log"
    stat.unlink(missing_ok=True)
    reads = "; ".join(f"read_verilog {_rel(f, work)}" for f in files)
    keeps = "".join(f"setattr -mod -set keep_hierarchy 1 {m}; " for m in keep)
    pre = f"{PRE_SYNTH[family]}; " if PRE_SYNTH[family] else ""
    script = (f"{reads}; hierarchy -top {top}; {keeps}{pre}{_SYNTH[family]} -top {top} "
              f"-json {netlist.name}; tee -q -o {stat.name} stat -json")
    seconds = run_tool([str(yosys_path()), "-q", "-l", log, "-p", script], work, work / log,
                       f"yosys {_SYNTH[family]}", progress)
    report = json.loads(stat.read_text())
    design = report.get("design") or next(iter(report["modules"].values()))
    by_type = {k: v for k, v in design["num_cells_by_type"].items()
               if k not in _NOT_HARDWARE and k not in keep}
    return {"netlist": netlist, "by_type": dict(sorted(by_type.items())),
            "estimate": resources(by_type, family), "seconds": round(seconds, 1)}


def check_fits(estimate, target, what):
    """Raise ``ValueError`` if ``estimate`` (``{luts, ffs, brams, dsps}``) exceeds the
    capacity of ``target`` (an :class:`~wafer_engine.sw.flows.fpga_targets.FpgaTarget` or its name);
    ``what`` names the design in the message."""
    target = find_target(target) if isinstance(target, str) else target
    over = [f"{name} {estimate[name]} > {cap}" for name, cap in target.capacity.items()
            if estimate.get(name, 0) > cap]
    if over:
        raise ValueError(f"{what} does not fit {target.name}: synthesis needs "
                         f"{', '.join(over)} available")


def place_and_route(netlist, target, work_dir, *, freq_mhz=None, extra=(), progress=SILENT):
    """Place and route the synthesised ``netlist`` on ``target`` (name or
    :class:`~wafer_engine.sw.flows.fpga_targets.FpgaTarget`); out of context on ECP5. ``freq_mhz`` is the
    timing goal (default 100 on ECP5, 50 on iCE40); timing failures do not stop the run.

    Returns ``{"fmax_mhz": lowest achieved clock frequency (MHz), "placed": {luts, brams,
    dsps (and ffs on ECP5)}, "utilisation": {nextpnr cell type: [used, available]},
    "seconds": wall time}``; the report and log are ``pnr_report.json`` and ``pnr.log``.
    ``progress`` shows placement, routing and timing as nextpnr reports them.
    """
    target = find_target(target) if isinstance(target, str) else target
    work = Path(work_dir).resolve()
    freq = freq_mhz or (100 if target.family == "ecp5" else 50)
    report, log = work / "pnr_report.json", "pnr.log"
    report.unlink(missing_ok=True)
    tool = Path(sys.executable).parent / f"yowasp-nextpnr-{target.family}"
    argv = [str(tool), *target.device_args, "--json", _rel(netlist, work), "--freq", str(freq),
            "--timing-allow-fail", "--report", report.name, "-l", log, "-q"]
    argv += ["--out-of-context"] if target.family == "ecp5" else ["--pcf-allow-unconstrained"]
    try:
        seconds = run_tool(argv + list(extra), work, work / log, f"nextpnr-{target.family}",
                           progress, parse=nextpnr_status)
    except RuntimeError:
        over = overflows((work / log).read_text()) if (work / log).exists() else []
        if over:
            raise CapacityError(f"nextpnr packs it into {', '.join(over)} available") from None
        raise
    data = json.loads(report.read_text())
    fmax = [c["achieved"] for c in data.get("fmax", {}).values()]
    used = {k: [v["used"], v["available"]] for k, v in data["utilization"].items()}
    placed = {name: sum(used.get(cell, [0])[0] for cell in cells)
              for name, cells in _PLACED[target.family].items()}
    return {"fmax_mhz": round(min(fmax), 2) if fmax else None, "placed": placed,
            "utilisation": {k: v for k, v in used.items() if v[0]},
            "seconds": round(seconds, 1)}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m wafer_engine.sw.flows.pnr",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("verilog", nargs="+", help="Verilog source files")
    parser.add_argument("--top", required=True, help="top module name")
    parser.add_argument("--target", default="ecp5-85k")
    parser.add_argument("--keep", action="append", default=[],
                        help="module to synthesise once (keep its hierarchy)")
    parser.add_argument("-o", "--output", default="build/fpga/pnr", help="work folder")
    args = parser.parse_args(argv)
    tgt = find_target(args.target)
    synth = synthesize(args.verilog, args.top, tgt.family, args.output, keep=args.keep)
    check_fits(synth["estimate"], tgt, args.top)
    result = place_and_route(synth["netlist"], tgt, args.output)
    synth["netlist"] = str(synth["netlist"])
    print(json.dumps({"synth": synth, "pnr": result}, indent=1))


if __name__ == "__main__":
    main()
