"""PE benchmarks on the RTL (Verilator): ``python -m wafer_engine.tb.bench.pe [--write F] [--pe-doc F]``.

On the default PE: FMAC utilisation of streamed MAC (the ``utilization`` test of
:mod:`wafer_engine.tb.pe.test_pe`, len 8, 16 and 32), the weight-sparsity speedup of a streamed-MAC layer
and the cost of activation sparsity in AXPY (:mod:`wafer_engine.tb.pe.bench_pe`), and an out-of-context
ECP5 resource estimate (:mod:`wafer_engine.sw.flows.synth`). Prints the tables and the speedup plot's path.
With ``--write``, replaces the PE section of that Markdown file (appends it if absent) and
writes the plot next to it; with ``--pe-doc``, replaces the resource table there too.
"""

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

from wafer_engine.sw.flows.synth import synth_ecp5
from wafer_engine.sw.flows.verilog import pe_top, write_verilog

from wafer_engine.tb.bench.results import provenance, write_section
from wafer_engine.sw.sim.runner import run_cocotb, sim_dir

__all__ = ["measure", "measure_sparsity", "measure_resources", "markdown", "plot",
           "write_section", "main"]

COMMAND = ".venv/bin/python -m wafer_engine.tb.bench.pe --write docs/results.md --pe-doc docs/pe.md"
BEGIN, END = "<!-- pe-bench:begin -->", "<!-- pe-bench:end -->"
RES_BEGIN, RES_END = "<!-- pe-resources:begin -->", "<!-- pe-resources:end -->"
PLOT = "pe_speedup.png"
#: Weight sparsities below this must reach 0.9 x the ideal speedup (the project's target).
TARGET_UP_TO, TARGET_FRACTION = 0.9, 0.9
CONFIG = "bench"


def _build():
    """The default PE's Verilog in the benchmark build folder (shared by both cocotb
    modules)."""
    component, name = pe_top()
    return component, write_verilog(component, name, sim_dir("pe", CONFIG))


def _run(test_module, results, testcase=None, **extra):
    pe, verilog = _build()
    results.unlink(missing_ok=True)
    run_cocotb(unit="pe", config_name=CONFIG, verilog_path=verilog, toplevel="pe",
               test_module=test_module, testcase=testcase, optimize=True,
               params={**asdict(pe.params), **extra, "results": str(results)})
    return json.loads(results.read_text())


def measure(scale=1):
    """FMAC utilisation; ``{len: {"cycles", "predicted", "fmac_issues", ...}}``."""
    return _run("wafer_engine.tb.pe.test_pe", sim_dir("pe", CONFIG) / "bench.json", "utilization",
                scale=scale)


def measure_sparsity(seed=1):
    """Weight and activation sparsity runs: ``{"weight_sparsity", "activation_sparsity"}``."""
    return _run("wafer_engine.tb.pe.bench_pe", sim_dir("pe", CONFIG) / "bench_pe.json", seed=seed)


def measure_resources():
    """``wafer_engine.sw.flows.synth.synth_ecp5`` on the default PE."""
    _, verilog = _build()
    return synth_ecp5(verilog, "pe")


def _speedups(weight):
    """Per sparsity: (sparsity, measured speedup, model's speedup, ideal 1/(1-s))."""
    runs = weight["runs"]
    dense = next(r for r in runs if r["sparsity"] == 0)
    return [(r["sparsity"], dense["cycles"] / r["cycles"], dense["predicted"] / r["predicted"],
             1 / (1 - r["sparsity"])) for r in runs]


def _error(r):
    diff = r["cycles"] - r["predicted"]
    return f"{diff:+d} ({100 * diff / r['predicted']:+.2f} %)"


def utilization_table(report):
    lines = ["| len | wavelets | FMAC issues | cycles (RTL) | cycles (model) | error "
             "| utilisation |", "|---|---|---|---|---|---|---|"]
    for n, r in sorted(report.items(), key=lambda kv: int(kv[0])):
        lines.append(f"| {n} | {r['wavelets']} | {r['fmac_issues']} | {r['cycles']} "
                     f"| {r['predicted']} | {_error(r)} | {100 * r['utilization']:.2f} % |")
    return lines


def weight_table(weight):
    lines = ["| zeros | weights sent | FMAC issues | cycles (RTL) | cycles (model) | error "
             "| speedup (RTL) | speedup (model) | ideal 1/(1-s) | RTL / ideal |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r, (s, got, model, ideal) in zip(weight["runs"], _speedups(weight)):
        lines.append(f"| {100 * s:g} % | {r['wavelets']} | {r['fmac_issues']} | {r['cycles']} "
                     f"| {r['predicted']} | {_error(r)} | {got:.2f} | {model:.2f} "
                     f"| {ideal:.2f} | {got / ideal:.3f} |")
    return lines


def activation_table(act):
    lines = ["| density | non-zeros | stream | wavelets sent | zeros skipped | FMAC issues "
             "| cycles (RTL) | cycles (model) | error |", "|---|---|---|---|---|---|---|---|---|"]
    for r in act["runs"]:
        lines.append(f"| {r['density']:g} | {r['nonzeros']} | {r['mode']} | {r['wavelets']} "
                     f"| {r['zeros_skipped']} | {r['fmac_issues']} | {r['cycles']} "
                     f"| {r['predicted']} | {_error(r)} |")
    return lines


def resource_table(res):
    others = ", ".join(f"{k} {v}" for k, v in res["by_type"].items()
                       if k not in ("LUT4", "TRELLIS_FF", "DP16KD", "MULT18X18D"))
    return ["| LUT4 | flip-flops (TRELLIS_FF) | DP16KD (18 Kbit block RAM) | MULT18X18D "
            "| cells in total | other cells |", "|---|---|---|---|---|---|",
            f"| {res['LUT4']} | {res['FF']} | {res['DP16KD']} | {res['MULT18X18D']} "
            f"| {res['cells']} | {others} |"]


def _target_line(weight):
    checked = [(s, got / ideal) for s, got, _, ideal in _speedups(weight) if s <= TARGET_UP_TO]
    worst_s, worst = min(checked, key=lambda sv: sv[1])
    verdict = "met" if worst >= TARGET_FRACTION else "**not met**"
    return (f"Target: speedup >= {TARGET_FRACTION:g} x ideal up to {100 * TARGET_UP_TO:g} % "
            f"zeros: {verdict} (lowest ratio {worst:.3f}, at {100 * worst_s:g} %).")


def markdown(util, sparsity, res, seconds, plot_name=PLOT):
    weight, act = sparsity["weight_sparsity"], sparsity["activation_sparsity"]
    wb, ab = weight["batch"], act["batch"]
    lines = [
        BEGIN, "## Processing element", "",
        "Measured on the RTL (Verilator via cocotb), default PE (4 colors, 4096 mem words, "
        "1024 accumulators, `max_len` 64, FIFOs 4/4). Command (this run took "
        f"{seconds:.0f} s of wall time):", "", "```sh", COMMAND, "```", "",
        provenance(COMMAND), "",
        "Cycles count from the cycle the first wavelet is offered (wavelets back to back, output "
        "always ready) to the first cycle with every wavelet taken and the PE idle. Before each "
        "run a fresh golden model (`wafer_engine.fabric.model.pe_model`) predicts the count from the same program "
        "and stream; error = RTL - model. The sparsity runs drive the RTL without the model in "
        "the loop, take issue counts from its counter ports, and compare the accumulators with "
        "the model afterwards.", "",
        "### FMAC utilisation, streamed MAC", "",
        "Every weight non-zero; target >= 95 %.", "", *utilization_table(util), "",
        "### Weight sparsity, streamed MAC", "",
        f"{weight['rows']} x {weight['cols']} weights `w[i][j]`, local vector (batch) {wb}, "
        f"activations resident; the zeros are at exactly `round(s * {weight['rows']} * "
        f"{weight['cols']})` random positions (fixed seed), and only the non-zero weights are "
        "streamed, row by row. Speedup = cycles(0 % zeros) / cycles.", "",
        *weight_table(weight), "", _target_line(weight), "",
        f"![Measured and ideal speedup against weight sparsity]({plot_name})", "",
        "### Activation sparsity, AXPY", "",
        f"{act['rows']} resident weight rows of {ab}; the activations `x[k]` stream as "
        "(value, index) in index order, with the zeros at random positions. *zeros never sent*: "
        "only the non-zeros; *dense*: all of them, on a task with or without `zero_skip`.", "",
        *activation_table(act), "",
        "### Resources", "",
        "Out of context, Yosys `synth_ecp5` on the default PE (no placement, no timing; "
        f"`wafer_engine.sw.flows.synth`, {res['seconds']:.0f} s):", "", *resource_table(res), END]
    return "\n".join(lines)


def plot(weight, path):
    """Measured, modelled and ideal speedup against weight sparsity, as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = _speedups(weight)
    s = np.array([r[0] for r in rows])
    # x = log10 of the ideal speedup: 50, 90 and 99 % zeros spread out evenly.
    x = -np.log10(1 - s)
    fine = np.linspace(0, x.max(), 100)
    fig, (ax, low) = plt.subplots(2, 1, figsize=(6.4, 5.6), dpi=120, sharex=True,
                                  gridspec_kw={"height_ratios": [3, 1]})
    ax.plot(fine, 10 ** fine, "k-", lw=1, label="ideal 1/(1-s)")
    ax.plot(fine, TARGET_FRACTION * 10 ** fine, ":", color="gray", lw=1,
            label=f"{TARGET_FRACTION:g} x ideal (target)")
    ax.plot(x, [r[2] for r in rows], "o", ms=10, mfc="none", color="tab:orange",
            label="golden model (predicted)")
    ax.plot(x, [r[1] for r in rows], "o-", ms=5, color="tab:blue", label="RTL (measured)")
    for xi, (_, got, _, _) in zip(x, rows):
        ax.annotate(f"{got:.2f}", (xi, got), textcoords="offset points", xytext=(6, -12),
                    fontsize=8, color="tab:blue")
    ax.set_yscale("log")
    ticks = [1, 2, 5, 10, 20, 50, 100]
    ax.set_yticks(ticks, [str(t) for t in ticks])
    ax.set_ylabel("speedup over dense (cycles)")
    ax.set_title(f"Streamed MAC, {weight['rows']} x {weight['cols']} weights, "
                 f"batch {weight['batch']}, one PE (RTL)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left")
    # The lines overlap on the log scale; the ratio shows how far from ideal each point is.
    low.axhline(1, color="k", lw=1)
    low.axhline(TARGET_FRACTION, color="gray", ls=":", lw=1)
    ratios = [r[1] / r[3] for r in rows]
    low.plot(x, ratios, "o-", ms=5, color="tab:blue")
    low.set_ylim(min(TARGET_FRACTION, *ratios) - 0.03, 1.02)
    low.set_xlim(-0.1, x.max() + 0.2)     # room for the last point's label
    low.set_ylabel("RTL / ideal")
    low.grid(True, alpha=0.3)
    low.set_xticks(x, [f"{100 * v:g} %" for v in s])
    low.set_xlabel("weight sparsity s (axis spaced as log 1/(1-s))")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m wafer_engine.tb.bench.pe",
                                     description=__doc__)
    parser.add_argument("--scale", type=int, default=1, help="utilisation workload multiplier")
    parser.add_argument("--seed", type=int, default=1, help="seed of the sparsity workloads")
    parser.add_argument("--write", help="Markdown file whose PE section is replaced")
    parser.add_argument("--pe-doc", help="Markdown file whose resource table is replaced")
    args = parser.parse_args(argv)
    start = time.monotonic()
    util = measure(scale=args.scale)
    sparsity = measure_sparsity(seed=args.seed)
    res = measure_resources()
    out = Path(args.write).parent if args.write else sim_dir("pe", CONFIG)
    png = plot(sparsity["weight_sparsity"], out / PLOT)
    text = markdown(util, sparsity, res, time.monotonic() - start)
    print(text)
    print(f"plot: {png}")
    if args.write:
        write_section(args.write, text, BEGIN, END)
    if args.pe_doc:
        write_section(args.pe_doc, "\n".join([RES_BEGIN, *resource_table(res), RES_END]),
                      RES_BEGIN, RES_END)


if __name__ == "__main__":
    main()
