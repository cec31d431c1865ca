"""``wafer train``: train a sparse MLP by weight streaming, on a bundled data set or your own
(``--data``), with a quick model (``--hidden``) or your own PyTorch ``nn.Sequential``
(``--model``), and export the result to PyTorch (``--export``)."""

import json
import sys
from pathlib import Path

from wafer_engine.sw.training.data import DATASETS
from wafer_engine.sw.training.engines import ENGINE_BACKENDS
from wafer_engine.sw.training.optim import LR_SCHEDULES, OPTIMIZERS
from wafer_engine.sw.training.torch_io import require_torch
from wafer_engine.sw.training.traffic import traffic_lines
from wafer_engine.sw.cli.array_flags import add_array_flags, array_params
from wafer_engine.sw.training.job import (TRAIN_ARRAY, TrainOptions, build_trainer,
                                          export_model, run_training)

__all__ = ["add_command"]


def _hidden(text):
    try:
        sizes = tuple(int(h) for h in text.split(","))
    except ValueError:
        raise ValueError(f"--hidden must be comma-separated integers, not {text!r}") from None
    return sizes


def _options(args):
    """:class:`TrainOptions` of the parsed ``args``; ``ValueError`` for flags that exclude
    each other."""
    if args.data is not None and args.dataset is not None:
        raise ValueError("Give --data or --dataset, not both")
    if args.model is not None:
        for name, value in (("--hidden", args.hidden), ("--bias", args.bias or None)):
            if value is not None:
                raise ValueError(f"--model brings its own layers: drop {name}")
    if args.export is not None:
        require_torch("--export")
        folder = Path(args.export).resolve().parent
        if not folder.is_dir():
            raise ValueError(f"--export {args.export}: folder {folder} does not exist")
    return TrainOptions(dataset=args.dataset or "digits", data=args.data, test=args.test,
                        model=args.model, hidden=_hidden(args.hidden or "64"),
                        bias=args.bias, prune_bias=args.prune_bias,
                        sparsity=args.sparsity, epochs=args.epochs, optimizer=args.optimizer,
                        lr=args.lr, lr_schedule=args.lr_schedule, batch=args.batch,
                        prune_epochs=args.prune_epochs,
                        array=array_params(args, TRAIN_ARRAY), backend=args.backend,
                        seed=args.seed,
                        checkpoint=args.checkpoint, store_dir=args.store_dir,
                        limit=args.limit)


def _data_parallel(args, opts):
    """A trainer factory for ``--fabrics K`` (None without it): K fabric engines as Dask
    workers, the step's batch cut into ``--micro-batches`` whose gradients are summed in one
    fixed fp32 tree, so any K gives the same bits."""
    if args.fabrics is None:
        for flag, value in (("--scheduler", args.scheduler),
                            ("--micro-batches", args.micro_batches)):
            if value is not None:
                raise ValueError(f"{flag} is for data-parallel training: give --fabrics")
        return None
    from wafer_engine.sw.swarm.data_parallel import DataParallelTrainer
    from wafer_engine.sw.swarm.tree import check_counts
    micro_batches = 4 if args.micro_batches is None else args.micro_batches
    check_counts(args.fabrics, micro_batches)
    if opts.batch % micro_batches:
        raise ValueError(f"--batch {opts.batch} is not a whole number of --micro-batches "
                         f"{micro_batches}")

    def make(store, optimizer, engine, batch, seed, prune_epochs):
        return DataParallelTrainer(store, optimizer, fabrics=args.fabrics,
                                   micro_batches=micro_batches,
                                   micro_batch=batch // micro_batches, backend=opts.backend,
                                   params=opts.array, address=args.scheduler, seed=seed,
                                   prune_epochs=prune_epochs)
    return make


def _run(args):
    opts = _options(args)
    make = _data_parallel(args, opts)
    trainer, data = build_trainer(opts, make_trainer=make)
    log = (lambda text: print(text, file=sys.stderr)) if args.json else print
    try:
        result = run_training(trainer, data, opts.epochs, checkpoint=opts.checkpoint,
                              progress=not args.no_progress, log=log)
    finally:
        if make is not None:
            trainer.close()
    if make is not None:
        result["fabrics"] = args.fabrics
        result["fabric_cycles_last_step"] = list(trainer.last_cycles)
        result["bytes_moved"] = dict(trainer.bytes_moved)
    if args.export is not None:
        model, stats = export_model(trainer, args.export)
        result["export"] = {"state_dict": str(model), "input_stats": str(stats)}
        log(f"exported the weights to {model} (load with torch.load(path, "
            f"weights_only=True) and load_state_dict), the input statistics to {stats}")
    if args.json:
        print(json.dumps(result))
        return
    if result["cycles"]:
        print(f"fabric ({result['backend']}, {opts.array.rows}x{opts.array.cols}): "
              f"{result['cycles']} "
              f"cycles for {result['steps']} steps this run, {result['fmac_ops']} FMACs, "
              f"{result['wavelets']} wavelets streamed; the same steps dense: "
              f"{result['dense_cycles']} cycles, speedup {result['speedup_vs_dense']:.2f}x")
    if "host_traffic" in result:
        print("host <-> fabric traffic:")
        print("\n".join(traffic_lines(result["host_traffic"])))


def add_command(commands):
    cmd = commands.add_parser("train", help="train a sparse MLP by weight streaming",
                              description=__doc__)
    cmd.add_argument("--dataset", choices=DATASETS,
                     help="one of scikit-learn's bundled data sets (default digits)")
    cmd.add_argument("--data", metavar="TRAIN.npz",
                     help="your training data: arrays X (samples x features) and y (integer "
                          "labels 0..K-1); without --test, 20 %% of it is held out")
    cmd.add_argument("--test", metavar="TEST.npz", help="your test data, as --data")
    cmd.add_argument("--model", metavar="FILE.py:NAME",
                     help="train the nn.Sequential named NAME that FILE.py defines (Linear, "
                          "ReLU, Dropout, Identity, Flatten); needs PyTorch")
    cmd.add_argument("--hidden",
                     help="quick model: hidden layer sizes, comma-separated (default 64)")
    cmd.add_argument("--bias", action="store_true",
                     help="quick model: every layer has a bias")
    cmd.add_argument("--prune-bias", action="store_true",
                     help="prune biases to the sparsity too (default: they stay dense)")
    cmd.add_argument("--sparsity", type=float, default=0.9,
                     help="fraction of zero weights per layer, in [0, 1) (default 0.9)")
    cmd.add_argument("--prune-epochs", type=int, default=5,
                     help="reach the sparsity by magnitude pruning over this many epochs "
                          "(cubic ramp; 0 = prune at initialisation; default 5)")
    cmd.add_argument("--epochs", type=int, default=15, help="epochs in total (default 15)")
    cmd.add_argument("--optimizer", default="sgd", choices=OPTIMIZERS,
                     help="SGD with momentum 0.9 (default, lr 0.1) or Adam (lr 0.003)")
    cmd.add_argument("--lr", type=float, help="learning rate (default per optimizer)")
    cmd.add_argument("--lr-schedule", default="cosine", choices=LR_SCHEDULES,
                     help="learning rate over the epochs: cosine annealing from --lr toward 0 "
                          "(default) or constant")
    cmd.add_argument("--batch", type=int, default=32, help="samples per step (default 32)")
    add_array_flags(cmd, TRAIN_ARRAY)
    cmd.add_argument("--backend", default="fast", choices=ENGINE_BACKENDS,
                     help="fast functional model (default: bit-exact, cycles estimated), the "
                          "cycle-exact golden model (slow), or the RTL array on Verilator "
                          "(slower)")
    cmd.add_argument("--seed", type=int, default=0, help="initial weights and data order")
    cmd.add_argument("--checkpoint", help="folder: resume from its checkpoint if it has one; "
                                          "save one after every epoch")
    cmd.add_argument("--store-dir", help="keep weights, masks and optimizer state in "
                                         "memory-mapped .npy files here (layers larger than RAM)")
    cmd.add_argument("--export", metavar="MODEL.pt",
                     help="write the trained weights as a PyTorch state_dict (and the input "
                          "statistics as MODEL.stats.npz); needs PyTorch")
    cmd.add_argument("--fabrics", type=int, metavar="K",
                     help="train data-parallel on K fabrics, each a Dask worker (the SwarmX "
                          "role: weights broadcast, gradients reduced in a fixed order, so "
                          "any K gives the same weights)")
    cmd.add_argument("--scheduler", metavar="ADDRESS",
                     help="with --fabrics: a running Dask scheduler (default: a local "
                          "cluster of K worker processes, started and stopped here)")
    cmd.add_argument("--micro-batches", type=int, metavar="M",
                     help="with --fabrics: micro-batches per step, at least K (default 4); "
                          "--batch must be a multiple")
    cmd.add_argument("--limit", type=int, metavar="N",
                     help="use only the first N samples of the training and of the test "
                          "split (quick runs on the slow backends)")
    cmd.add_argument("--no-progress", action="store_true", help="no progress bar")
    cmd.add_argument("--json", action="store_true", help="print one JSON object")
    cmd.set_defaults(run=_run)
