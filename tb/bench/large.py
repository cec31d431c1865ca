"""Large-array benchmarks: ``python -m wafer_engine.tb.bench.large [--write docs/results.md] [--rtl]``.

Sparse GEMV and weight-streaming GEMM cycles against sparsity on 16x16 and 64x64 arrays with the
fast models (:mod:`wafer_engine.fabric.fast.gemv`, :mod:`wafer_engine.fabric.fast.gemm`), next to the 4x4 array on the
cycle-exact golden model (:class:`wafer_engine.fabric.model.array_model.ArrayModel`) for the same per-PE shapes;
the speedup against the ideal ``1 / (1 - s)``, a plot (docs/large_speedup.png), the fast models'
cycle estimates against the exact counts, and simulation rates (fast model, exact model and,
with ``--rtl``, Verilator on one workload). The golden cycle prediction against the RTL for
every RTL-simulated array case has its own section, written by :mod:`wafer_engine.tb.bench.rtl_cycles`.
"""

import argparse
import json
import time
from pathlib import Path

import matplotlib
import numpy as np

from wafer_engine.fabric.fast.gemv import gemv_fast
from wafer_engine.fabric.fast.gemm import gemm_cycles, gemm_fast
from wafer_engine.fabric.workloads import gemm_program, gemv_program
from wafer_engine.fabric.workloads.common import split, to_fp16_bits
from wafer_engine.sw.backends.run import run_workload
from wafer_engine.tb.bench.rtl_cycles import run_recorded

from wafer_engine.tb.bench.results import commit, provenance, speedup_rows, write_section
from wafer_engine.sw.sim.verilator import BUILD_DIR

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the headless backend)
from wafer_engine.rtl.params import ArrayParams

BEGIN, END = "<!-- large-bench:begin -->", "<!-- large-bench:end -->"
COMMAND = ".venv/bin/python -m wafer_engine.tb.bench.large --write docs/results.md"
#: Marks the rows of the simulation-rate table of the ``--rtl`` workload and the line
#: that says where they come from; a run without ``--rtl`` keeps both from the old section.
RTL_LABEL = "GEMV 64 x 64, 4x4, default PE"
VERILATOR_ROW, VERILATOR_NOTE = f"| {RTL_LABEL} |", f"Rows `{RTL_LABEL}` (the `--rtl` runs):"
SPARSITY = (0.0, 0.5, 0.75, 0.9, 0.95, 0.99)
#: The last run's numbers, for ``--render``.
SAVED = BUILD_DIR / "results" / "bench_large.json"

#: Per-PE shapes. GEMV: ``rows`` output rows x ``feats`` input features of A per PE; GEMM:
#: W is ``m`` x ``feats * S``, X is ``feats * S`` x ``batch * S`` on an S x S array. ``pe``: PE
#: parameters that differ from the defaults (docs/pe.md). ``exact``: sizes also run on the
#: cycle-exact model; ``values``: sizes whose fast run computes Y as well (above them, only
#: :func:`~wafer_engine.fabric.fast.gemm.gemm_cycles` on the streamed weights per column: the bit-exact Y
#: of a 64x64 array with this shape is a billion fp32 MACs in numpy).
SHAPES = {
    "GEMV A": dict(kind="gemv", rows=16, feats=256, pe={}, sizes=(4, 16, 64), exact=(4,)),
    "GEMV B": dict(kind="gemv", rows=16, feats=1536, pe=dict(mem_words=24576),
                   sizes=(16, 64), exact=()),
    "GEMM A": dict(kind="gemm", m=16, feats=256, batch=4, pe={}, sizes=(4, 16, 64),
                   exact=(4,)),
    "GEMM B": dict(kind="gemm", m=64, feats=1024, batch=4, pe=dict(max_len=256),
                   sizes=(4, 16, 64), exact=(), values=(4, 16)),
}


def gemv_operands(shape, size, sparsity, seed=0):
    """A and x as wafer_engine.tb.bench.array draws them (same generator calls), so the 4x4 GEMV A
    workload is the one that benchmark ran on the RTL."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((shape["rows"] * size, shape["feats"] * size))
    x = rng.standard_normal(shape["feats"] * size)
    x[rng.random(x.size) < sparsity] = 0
    return a, x


def gemm_operands(shape, size, sparsity, seed=0):
    """W and X as wafer_engine.tb.bench.gemm draws them (GEMM A on 4x4 is that benchmark's
    workload)."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((shape["m"], shape["feats"] * size))
    w[rng.random(w.shape) < sparsity] = 0
    x = rng.standard_normal((shape["feats"] * size, shape["batch"] * size))
    return w, x


def run_point(shape, size, sparsity, model):
    """``(cycles, fmacs, seconds, config cycles)`` of one run; ``model``: ``"exact"`` (the
    timed run includes building the program and simulating its configuration chain) or
    ``"fast"`` (no configuration step: config cycles 0)."""
    pe = shape["pe"]
    gemv = shape["kind"] == "gemv"
    a, x = (gemv_operands if gemv else gemm_operands)(shape, size, sparsity)
    start = time.perf_counter()
    params = ArrayParams.build(rows=size, cols=size, **pe)
    if model == "exact":
        work = (gemv_program if gemv else gemm_program)(a, x, params)
        r = run_workload(work, "golden")
        return (r.cycles, r.total("fmac_issues"), time.perf_counter() - start,
                r.config_cycles)
    if gemv or size in shape.get("values", shape["sizes"]):
        _, stats = (gemv_fast if gemv else gemm_fast)(a, x, params)
        return stats.cycles, stats.fmac_ops, time.perf_counter() - start, 0
    nonzero = [int(np.count_nonzero(to_fp16_bits(a[:, f.start:f.stop]) & 0x7FFF))
               for f in split(a.shape[1], size)]
    cycles = gemm_cycles(nonzero, shape["m"], x.shape[1], size)
    return cycles, sum(nonzero) * x.shape[1], time.perf_counter() - start, 0


def sweeps(shapes, quick=False):
    """``{(shape, size, model): [(sparsity, cycles, fmacs, seconds, config cycles)]}``."""
    out = {}
    for name, shape in shapes.items():
        for size in shape["sizes"]:
            if quick and size > 16:
                continue
            models = (["exact"] if size in shape["exact"] else []) + ["fast"]
            for model in models:
                points = [(s, *run_point(shape, size, s, model)) for s in SPARSITY]
                out[(name, size, model)] = points
                print(name, size, model, [p[1] for p in points], flush=True)
    return out


def rtl_rate(size=4, m=64, n=64):
    """Seconds and cycles of one dense GEMV (A ``m`` x ``n``, default PE) on Verilator, the
    exact model and the fast model. The Verilator run is timed twice, the second with the
    model already built."""
    rng = np.random.default_rng(1)
    a, x = rng.standard_normal((m, n)), rng.standard_normal(n)
    work = gemv_program(a, x, ArrayParams.build(rows=size, cols=size))
    rows = []
    for backend in ("verilator", "verilator", "golden"):
        start = time.perf_counter()
        r = run_recorded(work, backend)
        rows.append((backend, r.cycles, r.config_cycles, time.perf_counter() - start))
    start = time.perf_counter()
    _, stats = gemv_fast(a, x, ArrayParams.build(rows=size, cols=size))
    rows.append(("fast", stats.cycles, 0, time.perf_counter() - start))
    return rows[1:]


def save(path, results, rates, seconds):
    """Keep a run's numbers (JSON) so that ``--render`` can rewrite the section."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"results": [[list(k), v] for k, v in results.items()],
                                "rates": rates, "seconds": seconds}))


def load(path):
    saved = json.loads(Path(path).read_text())
    results = {tuple(k): [tuple(p) for p in v] for k, v in saved["results"]}
    return results, [tuple(r) for r in saved["rates"]], saved["seconds"]


def plot(results, path):
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    ideal = [1 / (1 - s) for s in SPARSITY]
    for ax, kind in zip(axes, ("GEMV", "GEMM")):
        ax.plot(SPARSITY, ideal, "k--", label="ideal 1/(1-s)")
        for (name, size, model), points in results.items():
            if not name.startswith(kind):
                continue
            dense = points[0][1]
            style = "o-" if model == "fast" else "s:"
            ax.plot(SPARSITY, [dense / p[1] for p in points], style, markersize=4,
                    label=f"{name}, {size}x{size}, {model}")
        ax.set_yscale("log")
        ax.set_xlabel("sparsity s (zero activations / zero weights)")
        ax.set_title(f"{kind}: speedup over dense")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("cycles(dense) / cycles(s)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _shape_text(name, shape):
    pe = ", ".join(f"`{k}={v}`" for k, v in shape["pe"].items()) or "default PE"
    if shape["kind"] == "gemv":
        return (f"{name}: A is {shape['rows']}S x {shape['feats']}S ({shape['rows']} x "
                f"{shape['feats']} = {shape['rows'] * shape['feats']} words per PE), {pe}")
    return (f"{name}: W is {shape['m']} x {shape['feats']}S, X is {shape['feats']}S x "
            f"{shape['batch']}S ({shape['feats']} features x {shape['batch']} batch columns "
            f"per PE, {shape['m'] * shape['batch']} accumulators drained), {pe}")


def fast_row(name, size):
    """The Markdown rows of one fast-model sweep (shape ``name`` on a ``size`` x ``size``
    array), as the section prints them; cheap enough for tests/test_docs.py up to 16x16."""
    points = [(s, *run_point(SHAPES[name], size, s, "fast")) for s in SPARSITY]
    return speedup_rows((name, f"{size}x{size}", "fast"), [(s, c, f) for s, c, f, *_ in points])


def kept_verilator_lines(path):
    """The ``--rtl`` rows of the simulation-rate table in the old section of ``path`` and the
    line saying where they come from (``[]`` if there are none)."""
    path = Path(path)
    if not path.exists() or BEGIN not in path.read_text():
        return []
    section = path.read_text().split(BEGIN, 1)[1].split(END, 1)[0]
    return [line for line in section.splitlines()
            if VERILATOR_ROW in line or line.startswith(VERILATOR_NOTE)]


def markdown(results, rates, image, seconds, command=COMMAND, kept=()):
    """The section. ``rates`` are this run's; ``kept`` the Verilator lines of an earlier
    ``--rtl`` run (see :func:`kept_verilator_lines`), used when this run has none."""
    lines = [BEGIN, "## Large arrays (fast cycle models)", "", f"Command (this run took "
             f"{seconds:.0f} s of wall time; `--rtl` adds the Verilator run, `--quick` stops "
             f"at 16x16):", "", "```sh", command, "```", "", provenance(command), "",
             "Shapes per array size S (the same block in every PE at every size):", ""]
    lines += [f"- {_shape_text(n, s)}" for n, s in SHAPES.items()]
    lines += ["", "GEMV A and GEMM A are the workloads of the 4x4 RTL benchmarks above (same "
              "random draws). GEMV B fills a 48 KB PE (the WSE-2's SRAM per PE, 24576 fp16 "
              "words); GEMM B gives each PE 64 x 1024 x 4 = 262144 MACs when dense. Only "
              "non-zeros are streamed (x for GEMV, W for GEMM). `model`: `exact` is the "
              "cycle-exact array model (equal to the RTL wherever both ran), `fast` the "
              "analytical estimate of fabric/fast/gemv.py or fabric/fast/gemm.py. GEMM B on "
              "64x64 takes its cycles from `gemm_cycles` on the non-zero weights per column "
              "without computing Y. `cycles` (every table of this section): first wavelet "
              "in to last result out, the configuration chain excluded.", "",
              "| shape | array | model | sparsity | cycles | speedup | ideal | of ideal | "
              "FMACs |", "|---|---|---|---|---|---|---|---|---|"]
    for (name, size, model), points in results.items():
        lines += speedup_rows((name, f"{size}x{size}", model),
                              [(s, c, f) for s, c, f, *_ in points])
    lines += ["", "Lowest speedup / ideal up to 90 % sparsity (target for MAC-bound shapes: "
              ">= 0.9):", "", "| shape | array | model | lowest of ideal | at sparsity |",
              "|---|---|---|---|---|"]
    for (name, size, model), points in results.items():
        dense = points[0][1]
        ratio, at = min((dense / c * (1 - s), s) for s, c, *_ in points if s <= 0.9)
        lines.append(f"| {name} | {size}x{size} | {model} | {ratio:.2f} | {at:.2f} |")
    lines += ["", "What sparsity does not shrink is the reduction: after the streaming phase "
              "each row drains its accumulators (L for GEMV, M x L for GEMM) through one "
              "16-cycle chain step per column (docs/workloads.md), so it grows with the array "
              "width: 16 x 64 = 1024 cycles on 64x64 against, for GEMV A, 4096 cycles of dense "
              "AXPYs per PE. The streaming phase is also set by the busiest column, whose "
              "count of non-zeros exceeds the mean by a few standard deviations when there "
              "are many columns. Both matter less the more work each PE holds: GEMM B, 262144 "
              "MACs per PE when dense, stays above 0.9 of the ideal up to 90 % on 64x64; GEMV "
              "uses each weight once, so its work per PE is bounded by the PE's memory (4096 "
              "or 24576 words here).", "",
              f"![Speedup against sparsity, large arrays]({Path(image).name})", "",
              "### Fast models against the exact model", "",
              "| shape | array | sparsity | exact cycles | fast cycles | difference |",
              "|---|---|---|---|---|---|"]
    for (name, size, model), points in results.items():
        if model != "exact":
            continue
        for (s, exact, *_), (_, fast, *_) in zip(points, results[(name, size, "fast")]):
            lines.append(f"| {name} | {size}x{size} | {s:.2f} | {exact} | {fast} | "
                         f"{100 * (fast - exact) / exact:+.2f} % |")
    lines += ["", "### Simulation rate (PE-cycles per second)", "",
              "Workload cycles (first wavelet in to last out) times PEs, over the wall time of "
              "the whole run: for Verilator and the exact model that includes loading the "
              "program through the configuration chain (simulated, config cycles below) and, "
              "for Verilator, the model in lockstep; the fast model has no configuration step.",
              "", "| workload | simulator | cycles | config cycles | seconds | PE-cycles/s |",
              "|---|---|---|---|---|---|"]
    names = {"exact": "golden model (exact)", "golden": "golden model (exact)",
             "fast": "fast model", "verilator": "Verilator"}
    for label, size, backend, cycles, config, seconds in rates:
        lines.append(f"| {label} | {names[backend]} | {cycles} | {config} | {seconds:.2f} | "
                     f"{cycles * size * size / seconds:,.0f} |")
    note = []
    if any(backend == "verilator" for _, _, backend, *_ in rates):
        note = [f"{VERILATOR_NOTE} produced on commit `{commit()}` with `--rtl`."]
    elif kept:
        lines += [line for line in kept if VERILATOR_ROW in line]
        note = [line for line in kept if line.startswith(VERILATOR_NOTE)]
    if note:
        lines += [""] + note
    lines += ["", "The golden model's cycle prediction against the RTL for every RTL-simulated "
              "array case is in [its own section](#golden-cycle-prediction-against-the-rtl-"
              "every-rtl-simulated-array-case).", ""]
    lines += [END]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m wafer_engine.tb.bench.large",
                                     description=__doc__)
    parser.add_argument("--write", help="Markdown file whose large-array section is replaced")
    parser.add_argument("--rtl", action="store_true",
                        help="also time one GEMV on Verilator (builds the 4x4 array)")
    parser.add_argument("--quick", action="store_true", help="arrays up to 16x16 only")
    parser.add_argument("--render", action="store_true",
                        help=f"only rewrite the section and plot from the last run's {SAVED}")
    args = parser.parse_args(argv)
    doc = Path(args.write) if args.write else Path("build/results.md")
    image = doc.parent / "large_speedup.png"
    image.parent.mkdir(parents=True, exist_ok=True)
    if args.render:
        results, rates, seconds = load(SAVED)
    else:
        start = time.perf_counter()
        results = sweeps(SHAPES, args.quick)
        rates = []
        for (name, size, model), points in results.items():
            if size == 4 and name.endswith("A"):
                _, cycles, _, took, config = points[0]
                rates.append((f"{name} dense, 4x4", size, model, cycles, config, took))
        if args.rtl:
            rates += [(RTL_LABEL, 4, *row) for row in rtl_rate()]
        seconds = time.perf_counter() - start
        save(SAVED, results, rates, seconds)
    plot(results, image)
    command = " ".join([COMMAND.split(" --write")[0]]
                       + (["--write", args.write] if args.write else [])
                       + (["--rtl"] if args.rtl else []) + (["--quick"] if args.quick else []))
    kept = kept_verilator_lines(args.write) if args.write and not args.rtl else []
    text = markdown(results, rates, image, seconds, command, kept)
    print(text)
    if args.write:
        write_section(args.write, text, BEGIN, END)


if __name__ == "__main__":
    main()
