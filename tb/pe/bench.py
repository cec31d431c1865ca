"""PE benchmark on the RTL (Verilator): ``python -m tb.pe.bench``.

Runs the ``utilization`` test of :mod:`tb.pe.test_pe` (streamed MAC, weights back to back,
len 8, 16 and 32) on the default PE and prints, per length, the cycles measured on the RTL,
the cycles the golden model predicted beforehand, and the FMAC utilisation.
"""

import argparse
import json

from fabric.verilog import write_verilog
from rtl.pe import Pe

from ..sim import run_cocotb, sim_dir


def measure(scale=1, **params):
    """Run the benchmark; returns ``{len: {"cycles", "predicted", "fmac_issues", ...}}``."""
    config = "bench"
    folder = sim_dir("pe", config)
    pe = Pe(**params)
    verilog = write_verilog(pe, "pe", folder)
    results = folder / "bench.json"
    results.unlink(missing_ok=True)
    run_cocotb(unit="pe", config_name=config, verilog_path=verilog, toplevel="pe",
               test_module="tb.pe.test_pe", testcase="utilization", optimize=True,
               params={**pe.params._asdict(), "scale": scale, "results": str(results)})
    return json.loads(results.read_text())


def markdown(report):
    lines = ["| len | wavelets | FMAC issues | cycles (RTL) | cycles (model) | utilisation |",
             "|---|---|---|---|---|---|"]
    for n, r in sorted(report.items(), key=lambda kv: int(kv[0])):
        lines.append(f"| {n} | {r['wavelets']} | {r['fmac_issues']} | {r['cycles']} "
                     f"| {r['predicted']} | {100 * r['utilization']:.2f} % |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1, help="workload size multiplier")
    args = parser.parse_args(argv)
    print(markdown(measure(scale=args.scale)))


if __name__ == "__main__":
    main()
