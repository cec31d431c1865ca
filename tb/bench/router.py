"""Router benchmarks on the RTL (Verilator): ``python -m wafer_engine.tb.bench.router [--write FILE]``.

Measures, for buffer depths 1, 2 and 4 with 8 colors: throughput per output with all five
outputs saturated, zero-load hop latency, and the rate of one color while another is stalled.
With ``--write``, replaces the router section of that Markdown file.
"""

import argparse
import json

from wafer_engine.rtl.params import ArrayParams
from wafer_engine.sw.flows.verilog import router_top, write_verilog

from wafer_engine.tb.bench.results import provenance, write_section
from wafer_engine.sw.sim.runner import run_cocotb, sim_dir

COMMAND = ".venv/bin/python -m wafer_engine.tb.bench.router --write docs/results.md"
BEGIN, END = "<!-- router-bench:begin -->", "<!-- router-bench:end -->"


def measure(colors, depth, wavelets):
    config = f"bench_c{colors}_d{depth}"
    folder = sim_dir("router", config)
    verilog = write_verilog(*router_top(ArrayParams.build(colors=colors, depth=depth)), folder)
    results = folder / "bench.json"
    results.unlink(missing_ok=True)
    run_cocotb(unit="router", config_name=config, verilog_path=verilog, toplevel="router",
               test_module="wafer_engine.tb.router.bench_router",
               params={"colors": colors, "depth": depth, "wavelets": wavelets,
                       "results": str(results)})
    return json.loads(results.read_text())


def markdown(rows, colors, wavelets):
    lines = [BEGIN, "## Router", "",
             f"Measured on the RTL (Verilator via cocotb), {colors} colors, {wavelets} wavelets "
             "per input stream (also part of `make bench`). Command:", "", "```sh", COMMAND,
             "```", "", provenance(COMMAND), "",
             "| depth | saturated throughput per output (N, E, S, W, RAMP), wavelets/cycle "
             "| hop latency, cycles (min..max over 20 paths; 4-way multicast) "
             "| one color while another is stalled, wavelets/cycle |",
             "|---|---|---|---|"]
    for depth, r in rows:
        sat = ", ".join(f"{v:.3f}" for v in r["saturation"].values())
        lat = r["latency"]
        paths = f"{min(lat['paths'])}..{max(lat['paths'])}; {max(lat['multicast'])}"
        stall = r["stalled_color"]["color1_rate"]
        lines.append(f"| {depth} | {sat} | {paths} | {stall:.3f} |")
    lines += ["", "Targets: 1.0 wavelet/cycle/output at saturation; at most 2 cycles per hop "
              "(2 here: the arrival register, then the buffer). A wavelet holds its color's "
              "room from the edge it is taken until it leaves and ready sees the room again a "
              "cycle later, so depth d carries min(d, 3) wavelets per 3 cycles per (input, "
              "color); depth 3 is the default.", END]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m wafer_engine.tb.bench.router",
                                     description=__doc__)
    parser.add_argument("--colors", type=int, default=8)
    parser.add_argument("--wavelets", type=int, default=2000)
    parser.add_argument("--write", help="Markdown file whose router section is replaced")
    args = parser.parse_args(argv)
    rows = [(depth, measure(args.colors, depth, args.wavelets)) for depth in (1, 2, 3, 4)]
    text = markdown(rows, args.colors, args.wavelets)
    print(text)
    if args.write:
        write_section(args.write, text, BEGIN, END)


if __name__ == "__main__":
    main()
