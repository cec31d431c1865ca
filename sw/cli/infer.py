"""``wafer infer``: run a trained MLP (a ``wafer train --checkpoint`` folder) on the fabric,
weight-stationary, and report accuracy, predictions and the fabric's counters."""

import json
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from wafer_engine.sw.cli.array_flags import add_array_flags, array_params
from wafer_engine.sw.cli.files import check_output, load_operand, save_npy
from wafer_engine.sw.cli.linalg import backend_runner, check_distinct_files, plan_for
from wafer_engine.sw.inference.run import infer_mlp
from wafer_engine.sw.passes.plan import plan_gemm
from wafer_engine.sw.inference.model import load_input_stats, load_mlp
from wafer_engine.sw.training.data import DATASETS, load_dataset
from wafer_engine.sw.training.job import TRAIN_ARRAY

__all__ = ["add_command", "INFER_BACKENDS"]

#: The cycle-exact model, or the RTL on Verilator.
INFER_BACKENDS = ("golden", "verilator")


def add_command(commands):
    cmd = commands.add_parser(
        "infer", help="run a trained MLP on the fabric (weights resident, activations "
                      "streamed)", description=__doc__)
    cmd.add_argument("--checkpoint", required=True,
                     help="folder written by 'wafer train --checkpoint' (its newest checkpoint)")
    data = cmd.add_mutually_exclusive_group()
    data.add_argument("--inputs", help="samples, an S x features .npy array")
    data.add_argument("--dataset", choices=DATASETS,
                      help="the test split of a bundled dataset, as 'wafer train' makes it "
                           "(the default when --inputs is not given); prints the accuracy")
    add_array_flags(cmd, TRAIN_ARRAY)
    cmd.add_argument("--backend", default="golden", choices=INFER_BACKENDS,
                     help="the cycle-exact golden model (default) or the RTL on Verilator")
    cmd.add_argument("--out", help="where to write the predicted classes (int64 .npy)")
    cmd.add_argument("--json", action="store_true", help="print one JSON object")
    cmd.set_defaults(run=run, port=None, baud=None)


def _samples(args, features):
    """``(samples, labels or None)``."""
    if args.inputs is not None:
        x = load_operand(args.inputs, "--inputs", 2)
        if x.shape[1] != features:
            raise ValueError(f"--inputs {args.inputs!r}: has {x.shape[1]} features per "
                             f"sample; the model takes {features}")
        return x, None
    _, _, x_test, y_test, _ = load_dataset(args.dataset or "digits")
    if x_test.shape[1] != features:
        raise ValueError(f"--dataset {args.dataset or 'digits'}: has {x_test.shape[1]} "
                         f"features per sample; the model takes {features}")
    return x_test, y_test


def run(args):
    """Run ``wafer infer`` for parsed ``args``; raises ``ValueError`` for bad input."""
    params = array_params(args, TRAIN_ARRAY)
    if args.out is not None:
        out = check_output(args.out, "--out")
        inputs = [("--inputs", Path(args.inputs) if args.inputs else None)]
        check_distinct_files(("--out", out), inputs)
    try:
        spec, weights, meta = load_mlp(args.checkpoint)
        stats = load_input_stats(args.checkpoint)
    except ValueError as exc:
        raise ValueError(f"--checkpoint {args.checkpoint!r}: {exc}") from None
    x, labels = _samples(args, spec.inputs)
    if stats is not None:
        # The model was trained on standardised inputs: give it the same transform.
        x = stats.apply(x)
    for m, n in spec.stored_shapes:       # every layer's passes, before anything runs
        plan_for(plan_gemm, params, len(x), n, m, shrink=True)
    with ExitStack() as stack:
        result = infer_mlp(weights, x, params, backend_runner(args, stack), bias=spec.bias)
    if args.out is not None:
        save_npy(args.out, result.predictions.astype(np.int64))
    summary = {"backend": args.backend, "model": spec.signature, "samples": int(len(x)),
               "step": meta.get("step"), "array": [params.rows, params.cols],
               "accuracy": None if labels is None
               else float(np.mean(result.predictions == labels)),
               **result.totals(), "layers": result.layers}
    if args.json:
        print(json.dumps(summary))
        return
    what = f"{spec.signature} on {len(x)} samples"
    if labels is not None:
        what += f": accuracy {summary['accuracy']:.4f}"
    print(f"{what} ({args.backend}, {params.rows}x{params.cols} array)")
    print(f"fabric: {summary['cycles']} cycles in {summary['passes']} passes, "
          f"{summary['fmac_ops']} FMACs, activations {summary['activation_sparsity']:.1%} "
          f"zero; dense activations: {summary['dense_cycles']} cycles, speedup "
          f"{summary['speedup_vs_dense']:.2f}x" if summary["cycles"] else "fabric: no cycles")
    if args.out is not None:
        print(f"wrote {args.out}")
