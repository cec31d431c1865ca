"""SwarmX scaling, modelled: ``python -m wafer_engine.tb.bench.scale [--write docs/scale.md]``.

For a GPT-3-sized layer (W 12,288 x 49,152, a batch of 750 samples: one per array row) on the
WSE-2's 750 x 994 cores, the fabric cycles of one training step from the fast model's closed
forms; then, with :mod:`wafer_engine.sw.swarm.cost`, the weak-scaling efficiency T(1)/T(K)
for K = 1..192 systems (fan-in 2 and 4), and a projection of step time for models of 1 B to
120 T parameters made of such layers. Every figure is modelled; none is measured.
"""

import argparse
import time

from wafer_engine.rtl.params import ArrayParams
from wafer_engine.sw.swarm.cost import (SwarmParams, dense_traffic, layer_cycles, step_time,
                                        weak_scaling)
from wafer_engine.tb.bench.results import commit, write_section

__all__ = ["LAYER", "BATCH", "FABRICS", "PARAMETERS", "WSE2", "gpt3_layer", "main"]

BEGIN, END = "<!-- scale-bench:begin -->", "<!-- scale-bench:end -->"
COMMAND = ".venv/bin/python -m wafer_engine.tb.bench.scale --write docs/scale.md"
#: (M, N) of the GPT-3-sized layer: d_model x 4 d_model (the feed-forward down-projection).
LAYER = (12288, 49152)
#: One sample per array row: the smallest batch that puts every row to work.
BATCH = 750
WSE2 = ArrayParams.build(rows=750, cols=994)
FABRICS = (1, 2, 4, 8, 16, 32, 64, 128, 192)
PARAMETERS = (1e9, 1e10, 1e11, 1e12, 1e13, 1.2e14)
PROJECTED_FABRICS = (1, 4, 16, 64, 192)


def gpt3_layer(density=1.0):
    """``(cycles by pass, seconds the estimate took)`` of the GPT-3-sized layer."""
    start = time.perf_counter()
    cycles = layer_cycles(*LAYER, BATCH, WSE2, density)
    return cycles, time.perf_counter() - start


def _scaling_rows(cycles, traffic, fanin):
    rows = []
    for k, t, eff in weak_scaling(cycles, traffic, FABRICS, SwarmParams(fanin=fanin)):
        rows.append(f"| {fanin} | {k} | {t.fabric * 1e3:,.1f} | {t.broadcast * 1e3:,.1f} | "
                    f"{t.reduce * 1e3:,.1f} | {t.update * 1e3:,.1f} | {t.total * 1e3:,.1f} | "
                    f"{eff:.3f} | {t.largest(exclude=('fabric',))} |")
    return rows


def markdown():
    """The section, markers included (tests/test_docs.py compares it with docs/scale.md)."""
    swarm = SwarmParams()
    cycles, seconds = gpt3_layer()
    total = sum(cycles.values())
    traffic = [dense_traffic(*LAYER)]
    lines = [BEGIN, "", f"`{COMMAND}` (modelled; assumptions above; "
             f"produced on commit `{commit()}`):", "",
             f"GPT-3-sized layer, W {LAYER[0]:,} x {LAYER[1]:,}, batch {BATCH} on "
             f"{WSE2.rows} x {WSE2.cols}, dense; closed-form cycles (computed in "
             f"{seconds * 1e3:.1f} ms on this machine):", "",
             "| pass | cycles | ms at 1.1 GHz |", "|---|---|---|"]
    for name, c in cycles.items():
        lines.append(f"| {name} | {c:,} | {c / swarm.clock_hz * 1e3:,.2f} |")
    lines.append(f"| step | {total:,} | {total / swarm.clock_hz * 1e3:,.2f} |")
    header = ["| fan-in | K | fabric (ms) | broadcast (ms) | reduce (ms) | update (ms) | "
              "step (ms) | T(1)/T(K) | largest term after fabric |",
              "|---|---|---|---|---|---|---|---|---|"]
    lines += ["", "Weak scaling, one such layer per step, every system a batch of "
              f"{BATCH}:", ""] + header
    for fanin in (2, 4):
        lines += _scaling_rows(total, traffic, fanin)
    per_layer = LAYER[0] * LAYER[1]
    lines += ["", f"Projection, fan-in 4: a model of P parameters as P / {per_layer:,} "
              "such layers (fractional), dense, each system a batch of "
              f"{BATCH}; seconds per step (global batch {BATCH} K):", "",
              "| parameters | " + " | ".join(f"K = {k}" for k in PROJECTED_FABRICS) + " |",
              "|---|" + "---|" * len(PROJECTED_FABRICS)]
    for p in PARAMETERS:
        cells = [f"{step_time(total, traffic, k, swarm).total * p / per_layer:,.1f}"
                 for k in PROJECTED_FABRICS]
        lines.append(f"| {p:,.0f} | " + " | ".join(cells) + " |")
    return "\n".join(lines + ["", END])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", metavar="MD", help="replace the tables in this Markdown file")
    args = parser.parse_args(argv)
    text = markdown()
    print(text)
    if args.write:
        write_section(args.write, text, BEGIN, END)


if __name__ == "__main__":
    main()
