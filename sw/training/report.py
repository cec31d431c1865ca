"""The training report: a Markdown page and a loss / accuracy plot (PNG) of a training run."""

from pathlib import Path

from wafer_engine.sw.training.traffic import traffic_lines

__all__ = ["write_report"]


def _plot(result, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = range(1, len(result["loss"]) + 1)
    fig, loss_ax = plt.subplots(figsize=(6, 3.6))
    loss_ax.plot(epochs, result["loss"], "o-", color="tab:red", label="training loss")
    if result.get("reference_loss"):
        loss_ax.plot(epochs, result["reference_loss"], "--", color="tab:gray",
                     label="training loss, float64 reference")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("mean cross-entropy")
    acc_ax = loss_ax.twinx()
    acc_ax.plot(epochs, [100 * a for a in result["accuracy"]], "s-", color="tab:blue",
                label="test accuracy")
    acc_ax.set_ylabel("test accuracy (%)")
    acc_ax.set_ylim(0, 100)
    lines = loss_ax.get_lines() + acc_ax.get_lines()
    loss_ax.legend(lines, [l.get_label() for l in lines], loc="center right", fontsize=8)
    loss_ax.set_title(f"digits MLP, {100 * result['weight_sparsity']:.0f} % of weights zero, "
                      f"{result['array'][0]}x{result['array'][1]} fabric ({result['backend']})",
                      fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(folder, result, config, extra_lines=()):
    """Write ``report.md`` and ``training.png`` into ``folder``; returns the report's path.

    ``result``: a training summary (:func:`wafer_engine.sw.training.job.summary`, optionally with
    ``reference_loss``); ``config``: ``{name: value}`` lines describing the run;
    ``extra_lines``: Markdown lines appended (e.g. the RTL check)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _plot(result, folder / "training.png")
    lines = ["# Training report", "", "![loss and accuracy](training.png)", "",
             "| setting | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in config.items()]
    lines += ["", "| epoch | loss | test accuracy |", "|---|---|---|"]
    lines += [f"| {e + 1} | {l:.4f} | {100 * a:.2f} % |"
              for e, (l, a) in enumerate(zip(result["loss"], result["accuracy"]))]
    lines += ["", "## Fabric", "",
              "| pass | cycles | dense cycles | speedup | FMACs | wavelets in |",
              "|---|---|---|---|---|---|"]
    for name, p in result["passes"].items():
        speed = p["dense_cycles"] / p["cycles"] if p["cycles"] else float("nan")
        lines.append(f"| {name} | {p['cycles']:,} | {p['dense_cycles']:,} | {speed:.2f}x | "
                     f"{p['fmac_ops']:,} | {p['wavelets']:,} |")
    lines.append(f"| all | {result['cycles']:,} | {result['dense_cycles']:,} | "
                 f"{result['speedup_vs_dense']:.2f}x | {result['fmac_ops']:,} | "
                 f"{result['wavelets']:,} |")
    host = result["host"]
    lines += ["", f"Cycles are the golden cycle model's estimates for the training steps "
                  f"(evaluation excluded); 'dense' is the same steps with every weight "
                  f"streamed. Host: {host['pack_seconds']:.2f} s packing weight streams, "
                  f"{host['fabric_seconds']:.1f} s in the fabric model, "
                  f"{100 * host['overlap']:.0f} % of the packing hidden behind it.", ""]
    if "host_traffic" in result:
        lines += ["## Host <-> fabric traffic", "",
                  "Counted on what the engine sent to and received from the fabric "
                  "(docs/training.md, \"Host traffic\").", ""]
        lines += traffic_lines(result["host_traffic"]) + [""]
    lines += list(extra_lines)
    path = folder / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
