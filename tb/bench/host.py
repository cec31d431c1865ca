"""Host-stack benchmarks: weight-stream packing rate against the fabric's ingest rate, and the
cycles of one training step against weight sparsity.

    .venv/bin/python -m wafer_engine.tb.bench.host --write docs/results.md

Packing: :func:`wafer_engine.sw.training.packing.pack_weights` on a 4096 x 4096 layer at 90 % zeros (1.68 M
wavelets) for 256 array columns (the fewest whose 16-bit weight indices address 4096 rows), best
of 5. Ingest: on the training array (4 x 4, batch 32, so a batch slice of
L = 8 per row) every weight streamed into a column keeps its PEs busy L cycles, so the fabric
takes ``cols / L`` wavelets per cycle; at most 1 per column per cycle (link rate).

Training step: the digits MLP (64-64-10, batch 32) with its weights pruned by magnitude at
initialisation to each sparsity, one step on the golden model; the cycles are the cycle
model's estimates (within 5 % of the cycle-exact model in tests/test_fast_model.py).
"""

import argparse
import time

import numpy as np

from wafer_engine.sw.training.engines import PASSES
from wafer_engine.sw.training.packing import PackPlan, pack_weights
from wafer_engine.sw.training.job import TrainOptions, build_trainer
from wafer_engine.tb.bench.results import provenance, speedup_rows, write_section

BEGIN, END = "<!-- host-bench:begin -->", "<!-- host-bench:end -->"
CLOCK_HZ = 100e6
SPARSITIES = (0.0, 0.5, 0.75, 0.9, 0.95)


#: Array columns the packing benchmark packs for: with 16-bit weight indices ``(i << jbits) | j``,
#: 4096 output rows leave 4 bits for the feature within a column, so 4096 features need 256.
PACK_COLS = 256


def packing_rate(size=4096, sparsity=0.9, cols=PACK_COLS, repeats=5):
    """``(wavelets, best seconds per step, seconds to plan)`` of packing a ``size`` x ``size``
    layer held column-major as the weight store holds it, for ``cols`` array columns (the
    fewest whose weight indices fit 16 bits); the plan is made once per mask."""
    rng = np.random.default_rng(0)
    w = np.asfortranarray(rng.standard_normal((size, size)).astype(np.float32))
    mask = rng.random((size, size)) >= sparsity
    start = time.perf_counter()
    plan = PackPlan(mask, cols)
    plan_seconds = time.perf_counter() - start
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        packed = pack_weights(w, mask, cols, plan)
        best = min(best, time.perf_counter() - start)
    return packed.wavelets, best, plan_seconds


def step_cycles(sparsity):
    """``(per-pass cycles, wavelets streamed in)`` of one training step (first batch) with
    weights at ``sparsity``."""
    opts = TrainOptions(sparsity=sparsity, prune_epochs=0)
    trainer, data = build_trainer(opts)
    x, labels = np.ascontiguousarray(data[0][:opts.batch].T), data[1][:opts.batch]
    trainer.step(x, labels)
    stats = trainer.engine.stats
    return {p: stats[p].cycles for p in PASSES}, sum(stats[p].wavelets for p in PASSES)


def step_rows():
    """``(Markdown rows of the training-step table, {sparsity: wavelets/s the step needs})``;
    tests/test_docs.py compares the rows with docs/results.md."""
    points, step_need = [], {}
    for s in SPARSITIES:
        cycles, wavelets_in = step_cycles(s)
        total = sum(cycles.values())
        step_need[s] = wavelets_in / total * CLOCK_HZ
        points.append((s, total, *(f"{cycles[p]:,}" for p in PASSES)))
        print(f"sparsity {s:.2f}: {cycles} total {total}")
    return speedup_rows([], points), step_need


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", help="Markdown file to update (section between markers)")
    args = parser.parse_args(argv)

    wavelets, seconds, plan_seconds = packing_rate()
    host_rate = wavelets / seconds
    opts = TrainOptions()
    length = -(-opts.batch // opts.array.rows)
    need = opts.array.cols / length * CLOCK_HZ
    peak = opts.array.cols * CLOCK_HZ
    print(f"packing: {wavelets} wavelets in {seconds * 1e3:.1f} ms = {host_rate / 1e6:.0f} M/s; "
          f"fabric needs {need / 1e6:.0f} M/s (link peak {peak / 1e6:.0f} M/s)")

    rows, step_need = step_rows()

    lines = [BEGIN, "## Host stack: packing rate and training-step cycles", "",
             "Command: `.venv/bin/python -m wafer_engine.tb.bench.host --write docs/results.md` "
             "(see the module's docstring for the set-up).", "",
             provenance(".venv/bin/python -m wafer_engine.tb.bench.host --write docs/results.md"),
             "",
             "| quantity | rate (wavelets/s) | host / that |", "|---|---|---|",
             f"| host packing, 4096 x 4096 at 90 % zeros, for {PACK_COLS} columns "
             f"({wavelets:,} wavelets in "
             f"{seconds * 1e3:.1f} ms per step; the mask's plan {plan_seconds * 1e3:.0f} ms "
             f"once per pruning) | {host_rate / 1e6:.0f} M | |",
             f"| fabric ingest, training array (4 x 4, batch 32, L = {length}) at 100 MHz | "
             f"{need / 1e6:.0f} M | {host_rate / need:.1f}x |",
             f"| fabric ingest averaged over a training step at 90 % zeros (digits MLP, "
             f"table below) at 100 MHz | {step_need[0.9] / 1e6:.1f} M | "
             f"{host_rate / step_need[0.9]:.1f}x |",
             f"| link peak, 4 columns x 1 wavelet/cycle at 100 MHz | {peak / 1e6:.0f} M | "
             f"{host_rate / peak:.2f}x |", "",
             "One training step of the digits MLP (64-64-10, batch 32, 4 x 4 array), cycle "
             "model; speedups against the dense step:", "",
             "| sparsity | cycles | speedup | ideal | of ideal | forward | backward data | "
             "weight gradient |", "|---|---|---|---|---|---|---|---|"]
    lines += rows
    lines += ["", END]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section(args.write, text, BEGIN, END)


if __name__ == "__main__":
    main()
