"""Where a training step's cycles go: cycles, FMACs and FMAC utilisation per pass for the
training runs the weight-streaming targets name, a plot of each pass's share, and each run's
host <-> fabric traffic per step by kind.

    .venv/bin/python -m wafer_engine.tb.bench.training_cycles --write docs/training.md

Runs (the fast backend, whose cycles are the closed forms checked against the cycle-exact
model in tests/test_fast_model.py):

* ``dense 4x4``: digits, 64-64-10, batch 32, every weight kept, one epoch
  (``wafer train --sparsity 0 --epochs 1``);
* ``90 % zeros 4x4``: the same with 90 % of the weights pruned, 15 epochs (``wafer train``,
  the ``make demo`` run); the dense cycles of the same steps come with it;
* ``dense 8x8``: 64-256-256-10, batch 64 on an 8 x 8 array, one epoch
  (``wafer train --hidden 256,256 --sparsity 0 --batch 64 --rows 8 --cols 8 --epochs 1``).

FMAC utilisation is ``fmac_ops / (cycles x PEs)``: the share of PE cycles that issue a
multiply-accumulate.
"""

import argparse
from pathlib import Path

from wafer_engine.sw.training.engines import PASSES
from wafer_engine.sw.training.job import TRAIN_ARRAY, TrainOptions, build_trainer, run_training
from wafer_engine.sw.training.traffic import traffic_lines
from wafer_engine.tb.bench.results import provenance, write_section

BEGIN, END = "<!-- training-cycles:begin -->", "<!-- training-cycles:end -->"
COMMAND = ".venv/bin/python -m wafer_engine.tb.bench.training_cycles --write docs/training.md"
PLOT = "training_cycles.png"

#: ``{name: options}`` of the runs measured.
RUNS = {
    "dense 4x4": TrainOptions(sparsity=0.0, epochs=1),
    "90 % zeros 4x4": TrainOptions(),
    "dense 8x8": TrainOptions(hidden=(256, 256), sparsity=0.0, batch=64, epochs=1,
                              array=TRAIN_ARRAY.replace(rows=8, cols=8)),
}


def measure(opts):
    """The training summary (:func:`wafer_engine.sw.training.job.summary`) of ``opts``."""
    trainer, data = build_trainer(opts)
    return run_training(trainer, data, opts.epochs, progress=False, log=lambda *_: None)


def utilisation(fmac_ops, cycles, pes):
    return fmac_ops / (cycles * pes) if cycles else 0.0


def rows(results):
    """Markdown rows: per run and pass, cycles, share of the step, FMAC utilisation and, for
    the sparse run, the speedup against the same steps dense."""
    out = []
    for name, r in results.items():
        pes = r["array"][0] * r["array"][1]
        for p in PASSES + ("step",):
            s = r if p == "step" else r["passes"][p]
            share = s["cycles"] / r["cycles"] if r["cycles"] else 0.0
            out.append(f"| {name} | {p} | {s['cycles']:,} | {100 * share:.0f} % | "
                       f"{100 * utilisation(s['fmac_ops'], s['cycles'], pes):.1f} % | "
                       f"{s['dense_cycles'] / s['cycles']:.2f}x |")
    return out


def plot(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, ax = plt.subplots(figsize=(6.4, 3.1))
    left = [0.0] * len(names)
    for p, color in zip(PASSES, ("tab:blue", "tab:orange", "tab:green")):
        share = [100 * r["passes"][p]["cycles"] / r["cycles"] for r in results.values()]
        ax.barh(names, share, left=left, color=color, label=p.replace("_", " "))
        left = [a + b for a, b in zip(left, share)]
    ax.set_xlabel("share of the training step's fabric cycles (%)")
    ax.set_xlim(0, 100)
    ax.invert_yaxis()
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(results):
    lines = [BEGIN, "", provenance(COMMAND), "",
             "| run | pass | cycles | share | FMAC utilisation | speedup vs the same steps "
             "dense |", "|---|---|---|---|---|---|"]
    lines += rows(results)
    for name, r in results.items():
        lines.append("")
        lines.append(f"{name}: {r['steps']} steps, final test accuracy "
                     f"{100 * r['accuracy'][-1]:.2f} %.")
    lines += ["", f"![cycles per pass]({PLOT})"]
    for name, r in results.items():
        lines += ["", f"Host <-> fabric traffic of the {name} run, by kind "
                      f"(`host_traffic`, \"Host traffic\" above):", ""]
        lines += traffic_lines(r["host_traffic"])
    return "\n".join(lines + ["", END])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", metavar="MD", help="replace the section in this Markdown "
                        "file and write the plot beside it")
    args = parser.parse_args(argv)
    results = {}
    for name, opts in RUNS.items():
        results[name] = measure(opts)
        print(f"{name}: {results[name]['cycles']:,} cycles")
    text = markdown(results)
    print(text)
    if args.write:
        path = Path(args.write)
        plot(results, path.parent / PLOT)
        write_section(path, text, BEGIN, END)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
