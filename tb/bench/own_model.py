"""Bring your own model and data, measured: a PyTorch ``nn.Sequential`` with biases and dropout
trained on digits at 90 % zeros and exported back to PyTorch, and scikit-learn's small data sets
against its ``MLPClassifier`` of the same size on the same split. Writes both tables into
docs/training.md::

    python -m wafer_engine.tb.bench.own_model --write docs/training.md

Everything runs on the fast backend (bit-exact with the RTL) of the 4x4 training array.
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

from wafer_engine.rtl.params import ArrayParams
from wafer_engine.sw.training.bounds import decisive, logits_bound
from wafer_engine.sw.training.job import (TRAIN_ARRAY, TrainOptions, build_trainer,
                                          export_model, run_training)
from wafer_engine.tb.bench.results import write_section

ROOT = Path(__file__).resolve().parents[2]
#: The example model of docs/training.md.
DIGITS_MODEL = ROOT / "docs" / "examples" / "digits_mlp.py"
#: Hidden units of the small data sets' models (ours and scikit-learn's).
SMALL_HIDDEN = (32,)
SMALL_DATASETS = ("iris", "wine", "breast_cancer")
#: Our result may trail scikit-learn's by at most this (accuracy, absolute).
MARGIN = 0.03

BEGIN_DIGITS, END_DIGITS = "<!-- own-model:digits -->", "<!-- /own-model:digits -->"
BEGIN_SMALL, END_SMALL = "<!-- own-model:small -->", "<!-- /own-model:small -->"


def _quiet(*_):
    pass


def digits_round_trip(build_dir, epochs=15):
    """Train ``DIGITS_MODEL`` (64-128-64-10, biases, dropout 0.1) at 90 % zeros, export it and
    evaluate the export in PyTorch float32 against the host's evaluation on the fabric's
    arithmetic; returns the measured figures."""
    import torch
    from wafer_engine.sw.training.torch_io import load_model_file, load_state_dict

    # Drains of 128 outputs x 8 samples per array row.
    array = ArrayParams.build(TRAIN_ARRAY, max_len=1024)
    opts = TrainOptions(model=f"{DIGITS_MODEL}:model", epochs=epochs, array=array)
    start = time.perf_counter()
    trainer, data = build_trainer(opts)
    result = run_training(trainer, data, epochs, progress=False, log=_quiet)
    seconds = time.perf_counter() - start
    path, _ = export_model(trainer, Path(build_dir) / "digits_mlp.pt")

    user = load_model_file(f"{DIGITS_MODEL}:model", seed=123)
    user.load_state_dict(load_state_dict(path), strict=True)
    user.eval()
    x_test, y_test = data[2], data[3]
    with torch.no_grad():
        z_torch = user(torch.from_numpy(x_test)).numpy().astype(np.float64).T
    z_fabric = trainer.logits(x_test, array.rows).T
    bounds = []
    for s in range(0, len(x_test), trainer.batch):
        acts = trainer.forward(np.ascontiguousarray(x_test[s:s + trainer.batch].T))
        bounds.append(logits_bound(trainer.store.weights, acts, array.cols,
                                   trainer.store.spec.bias, float32=True)[1])
    d = np.concatenate(bounds, axis=1)
    sure = decisive(z_torch, d)
    zeros = sum(int((p == 0).sum()) for n, p in user.named_parameters() if n.endswith("weight"))
    weights = sum(p.numel() for n, p in user.named_parameters() if n.endswith("weight"))
    return {
        "epochs": epochs, "seconds": seconds, "samples": len(y_test),
        "accuracy_fabric": float(np.mean(np.argmax(z_fabric, 0) == y_test)),
        "accuracy_torch": float(np.mean(np.argmax(z_torch, 0) == y_test)),
        "same_class": int(np.sum(np.argmax(z_fabric, 0) == np.argmax(z_torch, 0))),
        "decisive": int(sure.sum()),
        "same_class_decisive": bool(np.array_equal(np.argmax(z_fabric, 0)[sure],
                                                   np.argmax(z_torch, 0)[sure])),
        "max_error_over_bound": float(np.max(np.abs(z_fabric - z_torch) / d)),
        "weight_zeros": zeros / weights, "speedup": result["speedup_vs_dense"],
        "history": result["accuracy"],
    }


def small_dataset(name, sparsity, epochs=30):
    """Test accuracy of our ``SMALL_HIDDEN`` model with biases on ``name`` at ``sparsity``
    (pruned over the first third of the epochs) and scikit-learn's ``MLPClassifier`` of the
    same size on the same standardised split."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    opts = TrainOptions(dataset=name, hidden=SMALL_HIDDEN, bias=True, sparsity=sparsity,
                        epochs=epochs, prune_epochs=epochs // 3 if sparsity else 0)
    trainer, data = build_trainer(opts)
    ours = run_training(trainer, data, epochs, progress=False, log=_quiet)["accuracy"][-1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=SMALL_HIDDEN, max_iter=2000, random_state=0)
        reference = clf.fit(data[0], data[1]).score(data[2], data[3])
    return {"dataset": name, "sparsity": sparsity, "accuracy": ours, "sklearn": reference,
            "zeros": trainer.store.zero_fraction(), "train": len(data[1]),
            "test": len(data[3]), "features": data[0].shape[1]}


def digits_section(r):
    return "\n".join([
        BEGIN_DIGITS,
        f"| run | test accuracy |", "|---|---|",
        f"| host evaluation on the fabric's arithmetic (fast backend) | "
        f"{100 * r['accuracy_fabric']:.2f} % |",
        f"| the export in PyTorch (float32, `model.eval()`) | {100 * r['accuracy_torch']:.2f} % |",
        "",
        f"{r['samples']} test samples; the same predicted class on {r['same_class']} of them; "
        f"{r['decisive']} have their top two logits further apart than the fp16 rounding bound "
        f"(`wafer_engine.sw.training.bounds`), and every logit is within its bound (largest "
        f"difference {r['max_error_over_bound']:.2f} of the bound). Weights zero in the export: "
        f"{100 * r['weight_zeros']:.2f} %; {r['epochs']} epochs took {r['seconds']:.0f} s; "
        f"fabric cycles {r['speedup']:.2f}x fewer than with every weight streamed. Test accuracy "
        f"per epoch: {', '.join(f'{100 * a:.1f}' for a in r['history'])} %.",
        END_DIGITS])


def small_section(rows):
    lines = [BEGIN_SMALL,
             "| data set | train / test samples | features | weights zero | test accuracy here "
             "| `MLPClassifier` | target (it minus 3 points) | met |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        met = r["accuracy"] >= r["sklearn"] - MARGIN
        lines.append(f"| {r['dataset']} | {r['train']} / {r['test']} | {r['features']} | "
                     f"{100 * r['zeros']:.0f} % | {100 * r['accuracy']:.2f} % | "
                     f"{100 * r['sklearn']:.2f} % | {100 * (r['sklearn'] - MARGIN):.2f} % | "
                     f"{'yes' if met else 'NO'} |")
    lines.append(END_SMALL)
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", help="Markdown file to write the tables into")
    parser.add_argument("--build-dir", default=str(ROOT / "build" / "own_model"))
    parser.add_argument("--skip-digits", action="store_true")
    args = parser.parse_args(argv)
    Path(args.build_dir).mkdir(parents=True, exist_ok=True)
    ok = True
    if not args.skip_digits:
        r = digits_round_trip(args.build_dir)
        text = digits_section(r)
        print(text)
        ok &= r["accuracy_torch"] >= 0.95 and r["same_class_decisive"]
        if args.write:
            write_section(args.write, text, BEGIN_DIGITS, END_DIGITS)
    rows = []
    for name in SMALL_DATASETS:
        for sparsity in (0.0, 0.5):
            rows.append(small_dataset(name, sparsity))
            print(rows[-1], flush=True)
    text = small_section(rows)
    print(text)
    ok &= all(r["accuracy"] >= r["sklearn"] - MARGIN for r in rows)
    if args.write:
        write_section(args.write, text, BEGIN_SMALL, END_SMALL)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
