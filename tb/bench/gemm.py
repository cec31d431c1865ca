"""GEMM benchmarks: ``python -m wafer_engine.tb.bench.gemm [--write docs/results.md]``.

Weight-streaming GEMM cycles against weight sparsity on the 4x4 array (RTL on Verilator and the
golden model) with the ideal speedup, and a heatmap of per-PE FMAC utilisation (FMAC issues
over the run's cycles) for one GEMM on an 8x8 array (golden model), written to
docs/gemm_fmac_heatmap.png.
"""

import argparse
import time
from pathlib import Path

import matplotlib
import numpy as np

from wafer_engine.fabric.workloads import gemm_program
from wafer_engine.sw.backends.run import run_workload
from wafer_engine.tb.bench.rtl_cycles import run_recorded

from wafer_engine.tb.bench.results import provenance, speedup_rows, write_section

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the headless backend)
from wafer_engine.rtl.params import ArrayParams

BEGIN, END = "<!-- gemm-bench:begin -->", "<!-- gemm-bench:end -->"
COMMAND = ".venv/bin/python -m wafer_engine.tb.bench.gemm --write docs/results.md"
SPARSITY = (0.0, 0.5, 0.75, 0.9, 0.95, 0.99)


def problem(size, sparsity, seed=0):
    """W is 16 x 256*size and X is 256*size x 4*size: each PE holds 256 features x 4 batch
    columns (1024 of its 4096 words) and drains 16 x 4 = 64 accumulators (the default
    max_len); every streamed weight feeds 4 FMACs in each of the ``size`` rows."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((16, 256 * size))
    w[rng.random(w.shape) < sparsity] = 0
    x = rng.standard_normal((256 * size, 4 * size))
    return gemm_program(w, x, ArrayParams.build(rows=size, cols=size))


def sweep(size, backend):
    rows = []
    for s in SPARSITY:
        start = time.perf_counter()
        result = run_recorded(problem(size, s), backend)
        rows.append((s, result, time.perf_counter() - start))
    return rows


def heatmap(size, sparsity, path):
    result = run_workload(problem(size, sparsity), "golden")
    grid = np.zeros((size, size))
    for (r, c), counters in result.counters.items():
        grid[r, c] = counters["fmac_issues"] / result.cycles
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    image = ax.imshow(grid, vmin=0, vmax=1, cmap="viridis")
    for (r, c), value in np.ndenumerate(grid):
        ax.text(c, r, f"{value:.2f}", ha="center", va="center", fontsize=7,
                color="white" if value < 0.5 else "black")
    ax.set_xlabel("array column")
    ax.set_ylabel("array row")
    ax.set_title(f"GEMM FMAC utilisation per PE\n{size}x{size} array, "
                 f"{int(sparsity * 100)} % zero weights", fontsize=10)
    fig.colorbar(image, ax=ax, label="FMAC issues / cycles")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return grid, result.cycles


def markdown(tables, grid, cycles, image):
    lines = [BEGIN, "## Weight-streaming GEMM", "", "Command:", "", "```sh", COMMAND, "```", "",
             provenance(COMMAND), "",
             "Shape per array size S: W is 16 x 256S, X is 256S x 4S; each PE holds 256 "
             "features x 4 batch columns and every streamed weight feeds 4 FMACs in each array "
             "row. Only non-zero weights are streamed. `cycles`: first wavelet in to last "
             "result out, drain and chain reduction included; speedup = dense / sparse cycles.",
             "", "| array | backend | zero weights | cycles | speedup | ideal | of ideal "
             "| FMACs |", "|---|---|---|---|---|---|---|---|"]
    for label, table in tables:
        lines += speedup_rows(label, [(s, r.cycles, r.total("fmac_issues"))
                                      for s, r, _ in table])
    size = grid.shape[0]
    lines += ["", f"Per-PE FMAC utilisation, {size}x{size} array, golden model, one GEMM of "
              f"{cycles} cycles: mean {grid.mean():.2f}, min {grid.min():.2f}, max "
              f"{grid.max():.2f} ({image}).", "", f"![FMAC heatmap]({Path(image).name})", "",
              END]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m wafer_engine.tb.bench.gemm",
                                     description=__doc__)
    parser.add_argument("--write", help="Markdown file whose GEMM section is replaced")
    parser.add_argument("--no-rtl", action="store_true", help="golden model only")
    args = parser.parse_args(argv)
    image = Path(args.write).parent / "gemm_fmac_heatmap.png" if args.write \
        else Path("build/gemm_fmac_heatmap.png")
    image.parent.mkdir(parents=True, exist_ok=True)
    tables = [(("4x4", "golden"), sweep(4, "golden"))]
    if not args.no_rtl:
        tables.insert(0, (("4x4", "verilator"), sweep(4, "verilator")))
    grid, cycles = heatmap(8, 0.5, image)
    text = markdown(tables, grid, cycles, f"docs/{image.name}" if args.write else image)
    print(text)
    if args.write:
        write_section(args.write, text, BEGIN, END)


if __name__ == "__main__":
    main()
