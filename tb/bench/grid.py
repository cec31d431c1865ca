"""Verilog of the full grid: ``python -m wafer_engine.tb.bench.grid [--write docs/scale.md]``.

Writes the array Verilog flat and hierarchical (row modules) for 64 x 64 and hierarchical for
the WSE-2's 750 x 994 cores, and measures for each the generation time (seconds, this
machine), the file size (MB, 10^6 bytes) and whether Yosys's ``hierarchy -check -top
wafer_array`` accepts it, with its time.
"""

import argparse
import subprocess
import time

from wafer_engine.rtl.params import ArrayParams
from wafer_engine.sw.flows.array_verilog import TOP_NAME, write_array_verilog
from wafer_engine.sw.flows.synth import yosys_path
from wafer_engine.sw.sim.runner import sim_dir
from wafer_engine.tb.bench.results import commit, write_section

__all__ = ["CASES", "measure", "table", "main"]

BEGIN, END = "<!-- grid-bench:begin -->", "<!-- grid-bench:end -->"
COMMAND = ".venv/bin/python -m wafer_engine.tb.bench.grid --write docs/scale.md"
#: (rows, cols, hierarchical) written and checked.
CASES = ((64, 64, False), (64, 64, True), (750, 994, True))


def yosys_check(path):
    """``(accepted, seconds)`` of ``hierarchy -check -top wafer_array`` on ``path``."""
    start = time.perf_counter()
    run = subprocess.run([str(yosys_path()), "-q", "-p",
                          f"read_verilog {path.name}; hierarchy -check -top {TOP_NAME}"],
                         cwd=path.parent, capture_output=True, text=True)
    return run.returncode == 0, time.perf_counter() - start


def measure(rows, cols, hierarchical, check=True):
    """One case: a dict of ``rows``, ``cols``, ``form``, ``seconds`` (generation), ``mb``
    (file size) and, with ``check``, ``yosys`` (accepted) and ``yosys_seconds``."""
    params = ArrayParams.build(rows=rows, cols=cols)
    form = "hierarchical" if hierarchical else "flat"
    path, seconds = write_array_verilog(params, sim_dir("grid", f"{rows}x{cols}_{form}"),
                                        hierarchical=hierarchical)
    out = {"rows": rows, "cols": cols, "form": form, "seconds": seconds,
           "mb": path.stat().st_size / 1e6}
    if check:
        out["yosys"], out["yosys_seconds"] = yosys_check(path)
    return out


def table(results):
    lines = [BEGIN, "", f"`{COMMAND}` (default PE: 4 colors, 4096-word memory; "
             f"produced on commit `{commit()}`):", "",
             "| array | form | generation (s) | size (MB) | `hierarchy -check` | Yosys (s) |",
             "|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['rows']} x {r['cols']} | {r['form']} | {r['seconds']:.1f} | "
                     f"{r['mb']:.1f} | {'accepted' if r['yosys'] else 'REJECTED'} | "
                     f"{r['yosys_seconds']:.1f} |")
    return "\n".join(lines + ["", END])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", metavar="MD", help="replace the table in this Markdown file")
    args = parser.parse_args(argv)
    results = [measure(*case) for case in CASES]
    text = table(results)
    print(text)
    if args.write:
        write_section(args.write, text, BEGIN, END)


if __name__ == "__main__":
    main()
