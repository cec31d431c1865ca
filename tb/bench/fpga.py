"""FPGA resource and Fmax tables for docs/fpga.md, produced by the commands they quote.

Runs, one at a time: ECP5 synthesis of the router, the PE and the tile alone (the per-tile
split and how cost grows with colors and memory), then ``wafer synth`` on arrays for
ECP5-85F, ECP5-25F and the iCE40UP5K (an array that does not fit is reported with the error
``wafer synth`` gives before place-and-route). Every result is kept in
``build/fpga/bench.json`` as it completes, so an interrupted run resumes where it stopped
(``--rerun`` starts over). Takes about an hour on two cores::

    python -m wafer_engine.tb.bench.fpga --write docs/fpga.md
"""

import argparse
import json
import sys
import time
from pathlib import Path

from wafer_engine.sw.paths import BUILD_DIR
from wafer_engine.rtl.params import ArrayParams

__all__ = ["ITEMS", "run_item", "render", "main"]

RESULTS = BUILD_DIR / "fpga" / "bench.json"
BEGIN, END = "<!-- fpga-bench:begin -->", "<!-- fpga-bench:end -->"
BOARD_BEGIN, BOARD_END = "<!-- board-results:begin -->", "<!-- board-results:end -->"
_PARTS = BUILD_DIR / "fpga" / "parts"

#: The smallest PE the GEMV and GEMM mappings run on (three colors) with small memories, and
#: the smallest PE at all, for the UP5K.
_SMALL = dict(colors=3, mem_words=256, acc_words=256)
_TINY = dict(mem_words=64, acc_words=64, max_len=16)

#: (id, kind, parameters). ``part``: synthesis of one module alone (``top`` router, pe or
#: tile); ``array``: ``wafer synth`` on a target.
ITEMS = [
    *[(f"router_c{k}", "part", dict(top="router", colors=k)) for k in (1, 3, 4, 8)],
    *[(f"pe_c{k}", "part", dict(top="pe", colors=k)) for k in (3, 4, 8)],
    *[(f"pe_m{n}", "part", dict(top="pe", mem_words=n)) for n in (256, 1024, 16384)],
    *[(f"tile_c{k}", "part", dict(top="tile", colors=k)) for k in (4, 8)],
    ("ecp5_1x1", "array", dict(target="ecp5-85k", rows=1, cols=1)),
    ("ecp5_4x4", "array", dict(target="ecp5-85k", rows=4, cols=4)),
    ("ecp5_1x1_small", "array", dict(target="ecp5-85k", rows=1, cols=1, **_SMALL)),
    ("ecp5_4x4_small", "array", dict(target="ecp5-85k", rows=4, cols=4, **_SMALL)),
    ("ice40_1x1", "array", dict(target="ice40-up5k", rows=1, cols=1)),
    ("ice40_1x1_c2", "array", dict(target="ice40-up5k", rows=1, cols=1, **_TINY, colors=2)),
    ("ice40_1x1_c1", "array", dict(target="ice40-up5k", rows=1, cols=1, **_TINY, colors=1)),
    ("board_icebreaker", "board", dict(board="icebreaker")),
    ("board_ulx3s", "board", dict(board="ulx3s-85f")),
    ("ecp5_2x2_small", "array", dict(target="ecp5-85k", rows=2, cols=2, **_SMALL)),
    ("ecp5_25k_1x1", "array", dict(target="ecp5-25k", rows=1, cols=1)),
    ("ecp5_2x3_small", "array", dict(target="ecp5-85k", rows=2, cols=3, **_SMALL)),
    ("ecp5_2x4_small", "array", dict(target="ecp5-85k", rows=2, cols=4, **_SMALL)),
]

_FLAGS = {"colors": "--colors", "mem_words": "--mem-words", "acc_words": "--acc-words",
          "max_len": "--max-len"}


def _params(p):
    """The :class:`~wafer_engine.rtl.params.ArrayParams` an item names (defaults for the rest)."""
    names = ArrayParams().flat()
    return ArrayParams.build(**{k: v for k, v in p.items() if k in names})


def _part_dir(p):
    return _PARTS / f"{p['top']}_c{_params(p).colors}_m{_params(p).pe.mem_words}"


def _command(kind, p):
    """The command line that reproduces one item."""
    if kind == "board":
        return f"wafer synth --board {p['board']} --json"
    if kind == "array":
        extra = "".join(f" {flag} {p[k]}" for k, flag in _FLAGS.items() if k in p)
        return (f"wafer synth --target {p['target']} --rows {p['rows']} --cols {p['cols']}"
                f"{extra} --json")
    out = _part_dir(p)
    if p["top"] == "tile":
        gen = f"wafer verilog --rows 1 --cols 1 --colors {_params(p).colors} -o {out}"
        return f"{gen} && python -m wafer_engine.sw.flows.synth {out}/wafer_array.v --top tile"
    mem = f" --mem-words {p['mem_words']}" if "mem_words" in p else ""
    gen = f"wafer verilog --top {p['top']} --colors {_params(p).colors}{mem} -o {out}"
    return f"{gen} && python -m wafer_engine.sw.flows.synth {out}/{p['top']}.v --top {p['top']}"


def run_item(kind, p):
    """Run one item; returns its record (``result`` or ``error``, ``command``)."""
    record = {"kind": kind, "params": p, "command": _command(kind, p)}
    if kind == "board":
        from wafer_engine.sw.flows.board_build import build_board
        try:
            record["result"] = build_board(p["board"])
        except ValueError as exc:
            record["error"] = str(exc)
        return record
    if kind == "array":
        from wafer_engine.sw.flows.fpga_build import build_array
        try:
            record["result"] = build_array(_params(p), target=p["target"])
        except ValueError as exc:
            record["error"] = str(exc)
        return record
    from wafer_engine.sw.flows.array_verilog import write_array_verilog
    from wafer_engine.sw.flows.synth import synth_ecp5
    from wafer_engine.sw.flows.verilog import TOPS, write_verilog
    out = _part_dir(p)
    if p["top"] == "tile":
        path, _ = write_array_verilog(_params(p).replace(rows=1, cols=1), out)
        record["result"] = synth_ecp5(path, "tile")
    else:
        path = write_verilog(*TOPS[p["top"]](_params(p)), out)
        record["result"] = synth_ecp5(path, p["top"])
    return record


def _load():
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {}


def _fmt(v):
    return "-" if v is None else (f"{v:.1f}" if isinstance(v, float) else str(v))


def _array_rows(results, ids):
    rows = ["| array | PE (colors, memory words, accumulators, max len) | logic cells (LUT4 after "
            "synthesis) | flip-flops | DSPs | block RAMs | Fmax (MHz) | synthesis + P&R (s) |",
            "|---|---|---|---|---|---|---|---|"]
    for i in ids:
        r = results.get(i)
        if r is None:
            continue
        p = r["params"]
        q = _params(p).pe
        pe = f"{q.colors}, {q.mem_words}, {q.acc_words}, {q.max_len}"
        what = f"{p['rows']}x{p['cols']}"
        if "error" in r:
            reason = r["error"].split(": ", 1)[-1]
            rows.append(f"| {what} | {pe} | does not fit: {reason} | | | | | |")
            continue
        x = r["result"]
        rows.append(f"| {what} | {pe} | {x['luts']} ({x['lut4']}) | {x['ffs']} | {x['dsps']} | "
                    f"{x['brams']} | {_fmt(x['fmax_mhz'])} | {x['seconds_synth']:.0f} + "
                    f"{x['seconds_pnr']:.0f} |")
    return rows


def _part_rows(results, ids):
    rows = ["| module | colors | memory words | LUT4 | flip-flops | DP16KD | MULT18X18D | "
            "CCU2C (carry, 2 LUTs each) | distributed RAM (TRELLIS_DPR16X4) |",
            "|---|---|---|---|---|---|---|---|---|"]
    for i in ids:
        r = results.get(i)
        if r is None:
            continue
        p, x = r["params"], r["result"]
        mem = _params(p).pe.mem_words if p["top"] != "router" else "-"
        rows.append(f"| {p['top']} | {_params(p).colors} | {mem} | {x['LUT4']} | {x['FF']} | "
                    f"{x['DP16KD']} | {x['MULT18X18D']} | {x['by_type'].get('CCU2C', 0)} | "
                    f"{x['by_type'].get('TRELLIS_DPR16X4', 0)} |")
    return rows


def _board_rows(results, ids):
    rows = ["| board | array | PE (colors, memory words, accumulators, max len) | logic cells | "
            "flip-flops | DSPs | block RAMs | Fmax (MHz) | clock (MHz) | timing met | "
            "build (s) |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for i in ids:
        r = results.get(i)
        if r is None or "result" not in r:
            if r is not None:
                rows.append(f"| {r['params']['board']} | {r['error']} | | | | | | | | | |")
            continue
        x = r["result"]
        rows.append(f"| {x['board']} | {x['rows']}x{x['cols']} | {x['colors']}, "
                    f"{x['mem_words']}, {x['acc_words']}, {x['max_len']} | {x['luts']} | "
                    f"{x['ffs']} | {x['dsps']} | {x['brams']} | {_fmt(x['fmax_mhz'])} | "
                    f"{x['clock_mhz']:g} | {'yes' if x['timing_met'] else 'no'} | "
                    f"{x['seconds']:.0f} |")
    return rows


def render_boards(results):
    """The Markdown block between the board markers."""
    ids = [i for i, kind, _ in ITEMS if kind == "board"]
    return "\n".join([BOARD_BEGIN, ""] + _board_rows(results, ids) + [
        "", "```sh"] + [results[i]["command"] for i in ids if i in results] + ["```", "",
                                                                             BOARD_END])


def _section(results, title, ids, target_items):
    if ids:
        return ["", title, ""] + _array_rows(results, ids)
    missing = " ".join(target_items)
    return ["", title, "", f"Not run yet: `python -m wafer_engine.tb.bench.fpga --only {missing} "
            f"--write docs/fpga.md`."]


def render(results):
    """The Markdown block between the bench markers."""
    ids = [i for i, *_ in ITEMS]
    arrays = {t: [i for i in ids if results.get(i, {}).get("kind") == "array"
                  and results[i]["params"]["target"] == t]
              for t in ("ecp5-85k", "ecp5-25k", "ice40-up5k")}
    parts = [i for i in ids if results.get(i, {}).get("kind") == "part"]
    titles = {"ecp5-85k": "### ECP5-85F (LFE5U-85F, CABGA381, speed 6; out of context)",
              "ecp5-25k": "### ECP5-25F (LFE5U-25F)",
              "ice40-up5k": "### iCE40UP5K (SG48; through the pin wrapper)"}
    out = [BEGIN]
    for target, title in titles.items():
        items = [i for i, kind, p in ITEMS if kind == "array" and p["target"] == target]
        out += _section(results, title, arrays[target], items)
    out += ["", "### Router, PE and tile alone (ECP5 synthesis, no placement)", ""]
    out += _part_rows(results, parts)
    out += ["", "The commands behind every row, in the order they ran:", "", "```sh"]
    out += [results[i]["command"] for i in ids
            if i in results and results[i]["kind"] != "board"]
    out += ["```", "", END]
    return "\n".join(out)


def _write(path, text, begin=BEGIN, end=END):
    path = Path(path)
    old = path.read_text()
    head, rest = old.split(begin, 1)
    path.write_text(head + text + rest.split(end, 1)[1])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m wafer_engine.tb.bench.fpga",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--write", help="Markdown file whose bench block to replace")
    parser.add_argument("--only", nargs="*", help="item ids to run (default all)")
    parser.add_argument("--rerun", action="store_true", help="ignore stored results")
    parser.add_argument("--list", action="store_true", help="list the item ids")
    parser.add_argument("--no-run", action="store_true",
                        help="only write the tables from the stored results")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(i for i, *_ in ITEMS))
        return
    results = {} if args.rerun else _load()
    for item, kind, params in ITEMS:
        if args.no_run or (args.only and item not in args.only) or \
                (item in results and not args.only):
            continue
        start = time.monotonic()
        print(f"{item}: {_command(kind, params)}", file=sys.stderr, flush=True)
        results[item] = run_item(kind, params)
        print(f"  {time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)
        # Merge into what is stored now, not what was stored at the start, so runs of
        # different items side by side (each place-and-route uses one core) keep each other's.
        results = {**_load(), item: results[item]}
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=1, default=str))
    if args.write:
        _write(args.write, render(results))
        _write(args.write, render_boards(results), BOARD_BEGIN, BOARD_END)


if __name__ == "__main__":
    main()
