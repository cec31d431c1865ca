"""Per-block resources and Fmax (router, PE, tile at 1, 4, 8 and 24 colors) for docs/fpga.md.

Each block is written as Verilog alone (``wafer verilog --top router|pe``, the tile of a 1x1
array), synthesised for ECP5 and placed and routed out of context on the ECP5-85F (speed 6):
LUT4 after synthesis, flip-flops, distributed RAM (TRELLIS_DPR16X4), DSPs (MULT18X18D), block
RAMs (DP16KD), placed logic cells and Fmax. Records are kept per design in
``docs/data/blocks.json`` (``--design NAME``, with the commit they were measured on), so a
design that has left the tree keeps its numbers next to the current one; the table compares
every design on record. One tool runs at a time; the whole set takes about an hour on two
cores::

    python -m wafer_engine.tb.bench.blocks --design v2 --write docs/fpga.md
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from wafer_engine.rtl.params import ArrayParams
from wafer_engine.sw.paths import BUILD_DIR

__all__ = ["ITEMS", "RECORD", "run_item", "render", "main"]

RECORD = Path(__file__).resolve().parents[2] / "docs" / "data" / "blocks.json"
BEGIN, END = "<!-- blocks:begin -->", "<!-- blocks:end -->"
_WORK = BUILD_DIR / "fpga" / "blocks"
COLORS = (1, 4, 8, 24)
BLOCKS = ("router", "pe", "tile")
#: ``(id, block, colors)`` in the order they run: the cheap syntheses first.
ITEMS = [(f"{b}_c{k}", b, k) for b in BLOCKS for k in COLORS]


def _command(block, colors):
    out = f"build/fpga/blocks/{block}_c{colors}"
    if block == "tile":
        gen = f"wafer verilog --rows 1 --cols 1 --colors {colors} -o {out}"
        src, top = f"{out}/wafer_array.v", "tile"
    else:
        gen = f"wafer verilog --top {block} --colors {colors} -o {out}"
        src, top = f"{out}/{block}.v", block
    return (f"{gen} && python -m wafer_engine.sw.flows.pnr {src} --top {top} "
            f"-o {out}/pnr")


def run_item(block, colors):
    """Synthesise and place one block; returns its record."""
    from wafer_engine.sw.flows.array_verilog import write_array_verilog
    from wafer_engine.sw.flows.pnr import place_and_route, synthesize
    from wafer_engine.sw.flows.verilog import TOPS, write_verilog
    params = ArrayParams.build(rows=1, cols=1, colors=colors)
    out = _WORK / f"{block}_c{colors}"
    if block == "tile":
        path, _ = write_array_verilog(params, out)
        top = "tile"
    else:
        path, top = write_verilog(*TOPS[block](params), out), block
    synth = synthesize(path, top, "ecp5", out / "pnr")
    pnr = place_and_route(synth["netlist"], "ecp5-85k", out / "pnr")
    by_type = synth["by_type"]
    return {"command": _command(block, colors), "lut4": by_type.get("LUT4", 0),
            "ffs": by_type.get("TRELLIS_FF", 0), "dpr16x4": by_type.get("TRELLIS_DPR16X4", 0),
            "ccu2c": by_type.get("CCU2C", 0), "dsps": by_type.get("MULT18X18D", 0),
            "brams": by_type.get("DP16KD", 0), "cells": pnr["placed"].get("luts"),
            "fmax_mhz": pnr["fmax_mhz"], "seconds": synth["seconds"] + pnr["seconds"]}


def _load():
    return json.loads(RECORD.read_text()) if RECORD.exists() else {}


def _fmt(v):
    return "-" if v is None else (f"{v:.1f}" if isinstance(v, float) else f"{v:,}")


def render(record):
    """The Markdown block between the markers: one row per block, colors and design."""
    designs = list(record)
    rows = [BEGIN, "", "| block | colors | design | LUT4 | flip-flops | distributed RAM "
            "(DPR16X4) | carry (CCU2C) | DSP | block RAM | placed logic cells | Fmax (MHz) |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for _, block, colors in ITEMS:
        for d in designs:
            x = record[d]["items"].get(f"{block}_c{colors}")
            if x is None:
                continue
            if "error" in x:
                rows.append(f"| {block} | {colors} | {d} | {x['error']} |" + " |" * 7)
                continue
            rows.append(f"| {block} | {colors} | {d} | {_fmt(x['lut4'])} | {_fmt(x['ffs'])} | "
                        f"{_fmt(x['dpr16x4'])} | {_fmt(x['ccu2c'])} | {x['dsps']} | "
                        f"{x['brams']} | {_fmt(x['cells'])} | {_fmt(x['fmax_mhz'])} |")
    rows += ["", "Measured on: " + "; ".join(_measured_on(d, record[d]) for d in designs) + ".",
             "", END]
    return "\n".join(rows)


def _measured_on(design, entry):
    """``v2 at commit `abc``` or, when its rows were measured on several commits,
    ``v2: router at commit `abc`, pe and tile at commit `def```."""
    by_commit = {}
    for item, x in entry["items"].items():
        block = item.rsplit("_c", 1)[0]
        blocks = by_commit.setdefault(x.get("commit", entry["commit"]), [])
        if block not in blocks:
            blocks.append(block)
    if len(by_commit) == 1:
        return f"{design} at commit `{next(iter(by_commit))}`"
    return f"{design}: " + ", ".join(f"{' and '.join(b)} at commit `{c}`"
                                     for c, b in by_commit.items())


def _write(path, text):
    path = Path(path)
    head, rest = path.read_text().split(BEGIN, 1)
    path.write_text(head + text + rest.split(END, 1)[1])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m wafer_engine.tb.bench.blocks",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--design", required=True, help="label the measurements are kept under")
    parser.add_argument("--only", nargs="*", help="item ids to run (default: those not on record)")
    parser.add_argument("--write", help="Markdown file whose blocks table to replace")
    parser.add_argument("--no-run", action="store_true", help="only write the table")
    args = parser.parse_args(argv)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=RECORD.parents[2]).stdout.strip()
    for item, block, colors in ITEMS:
        record = _load()
        entry = record.setdefault(args.design, {"commit": commit, "items": {}})
        if args.no_run or (args.only and item not in args.only) or \
                (not args.only and item in entry["items"]):
            continue
        start = time.monotonic()
        print(f"{item}: {_command(block, colors)}", file=sys.stderr, flush=True)
        try:
            entry["items"][item] = run_item(block, colors)
        except RuntimeError as exc:
            # A tool that fails on a block (YoWASP Yosys runs out of WebAssembly stack on the
            # widest multiplexers) is a result too: kept with the tool's last message.
            last = [ln.strip() for ln in str(exc).splitlines() if ln.strip()][-1]
            entry["items"][item] = {"command": _command(block, colors),
                                    "error": f"{str(exc).splitlines()[0].split(';')[0]}: {last}"}
        # Each row keeps the commit it was measured on: a design's blocks may be re-measured
        # one at a time after a change to one of them.
        entry["items"][item]["commit"] = commit
        entry["commit"] = commit
        print(f"  {time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)
        # Re-read before writing: items may run side by side in several processes.
        record = {**_load(), args.design: {**_load().get(args.design, {}), **entry}}
        record[args.design]["items"] = {**_load().get(args.design, {}).get("items", {}),
                                        **entry["items"]}
        RECORD.parent.mkdir(parents=True, exist_ok=True)
        RECORD.write_text(json.dumps(record, indent=1) + "\n")
    if args.write:
        _write(args.write, render(_load()))


if __name__ == "__main__":
    main()
