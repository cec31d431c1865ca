"""The training job behind ``wafer train`` and ``make demo``: load and standardise the data,
build the model, the weight store and the engine from options, train with a progress bar,
checkpoint every epoch, summarise the run (per-epoch loss and accuracy, fabric counters, the
sparsity speedup) and export the weights to PyTorch."""

from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from wafer_engine.rtl.params import ArrayParams
from wafer_engine.sw.training.checkpoint import has_checkpoint
from wafer_engine.sw.training.data import load_data_files, load_dataset
from wafer_engine.sw.training.engines import PASSES, FabricEngine
from wafer_engine.sw.training.mlp import from_sizes, he_init
from wafer_engine.sw.training.optim import lr_factor, make_optimizer
from wafer_engine.sw.training.pass_plans import gemm_plan, wgrad_plan
from wafer_engine.sw.training.standardize import Standardizer
from wafer_engine.sw.training.traffic import host_traffic
from wafer_engine.sw.training.trainer import Trainer, check_train_options
from wafer_engine.sw.training.weight_store import WeightStore

__all__ = ["TrainOptions", "build_trainer", "load_training_data", "run_training", "summary",
           "export_model", "TRAIN_ARRAY"]

#: The training array: the default array and PE but for 3 colors (what the GEMM and gradient
#: mappings use) and drains of up to 512 accumulators (M x batch slice).
TRAIN_ARRAY = ArrayParams.build(colors=3, max_len=512)


@dataclass
class TrainOptions:
    """Options of ``wafer train`` (see its ``--help``). ``data``/``test``: the user's ``.npz``
    files (instead of ``dataset``); ``model``: ``"FILE.py:NAME"`` (instead of ``hidden`` and
    ``bias``, the quick form: hidden sizes, every layer with a bias or none); ``limit``: use
    only the first that many samples of the training and of the test split (quick runs on
    the slow backends; ``None``: all)."""
    dataset: str = "digits"
    data: str = None
    test: str = None
    model: str = None
    hidden: tuple = (64,)
    bias: bool = False
    prune_bias: bool = False
    sparsity: float = 0.9
    epochs: int = 15
    optimizer: str = "sgd"
    lr: float = None
    lr_schedule: str = "cosine"
    batch: int = 32
    prune_epochs: int = 5
    array: ArrayParams = TRAIN_ARRAY
    backend: str = "fast"
    seed: int = 0
    checkpoint: str = None
    store_dir: str = None
    limit: int = None


def load_training_data(opts):
    """``(x_train, y_train, x_test, y_test, classes, standardizer)``: the data of ``opts``
    (a bundled data set or the user's files), cut to ``opts.limit`` samples per split,
    standardised with the training split's statistics."""
    limit = opts.limit
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                              or limit < 1):
        raise ValueError(f"The sample limit must be a positive integer, not {limit!r}")
    if opts.data is not None:
        x_train, y_train, x_test, y_test, classes = load_data_files(opts.data, opts.test,
                                                                    seed=opts.seed)
    elif opts.test is not None:
        raise ValueError("A test file needs its training file (--data)")
    else:
        x_train, y_train, x_test, y_test, classes = load_dataset(opts.dataset, seed=opts.seed)
    if limit is not None:
        x_train, y_train, x_test, y_test = (x_train[:limit], y_train[:limit], x_test[:limit],
                                            y_test[:limit])
    stats = Standardizer.fit(x_train)
    return stats.apply(x_train), y_train, stats.apply(x_test), y_test, classes, stats


def _model(opts, features, classes):
    """``(spec, initial stored matrices)``: the user's PyTorch model (its own initial
    weights) or the quick form (He-normal)."""
    if opts.model is not None:
        from wafer_engine.sw.training.mlp import from_torch
        from wafer_engine.sw.training.torch_io import load_model_file
        spec, weights = from_torch(load_model_file(opts.model, opts.seed))
    else:
        for h in opts.hidden:
            if not isinstance(h, int) or h < 1:
                raise ValueError(f"Hidden layer sizes must be positive integers, not {h!r}")
        spec = from_sizes([features, *opts.hidden, classes], bias=opts.bias)
        weights = he_init(spec, np.random.default_rng(opts.seed))
    if spec.inputs != features:
        raise ValueError(f"The model takes {spec.inputs} inputs but the data has {features} "
                         f"features")
    if spec.outputs != classes:
        raise ValueError(f"The model has {spec.outputs} outputs but the data has {classes} "
                         f"classes (labels 0..{classes - 1})")
    return spec, weights


def build_trainer(opts, engine=None, dtype=np.float32, make_trainer=None):
    """``(trainer, data)`` for ``opts``; ``engine`` defaults to the fabric on
    ``opts.backend``; ``make_trainer(store, optimizer, engine, batch=, seed=,
    prune_epochs=)`` builds the trainer (default :class:`Trainer`; the data-parallel one for
    several fabrics); ``data`` is ``(x_train, y_train, x_test, y_test)``, standardised (the
    statistics are the trainer's ``extra_arrays``, saved with every checkpoint). Raises
    ``ValueError`` for bad options or data before anything runs."""
    check_train_options(opts.sparsity, opts.epochs)
    if not isinstance(opts.prune_epochs, int) or opts.prune_epochs < 0:
        raise ValueError(f"Prune epochs must be a non-negative integer, not "
                         f"{opts.prune_epochs!r}")
    x_train, y_train, x_test, y_test, classes, stats = load_training_data(opts)
    spec, weights = _model(opts, x_train.shape[1], classes)
    optimizer = make_optimizer(opts.optimizer, opts.lr)
    lr_factor(opts.lr_schedule, 0, 1)       # the schedule's name, before any work
    if engine is None:
        engine = FabricEngine(opts.backend, opts.array)
        _check_fits(spec, opts)
    store = WeightStore(spec, weights, opts.sparsity, optimizer.state_names,
                        directory=opts.store_dir, dtype=dtype, prune_bias=opts.prune_bias)
    trainer = (make_trainer or Trainer)(store, optimizer, engine, batch=opts.batch,
                                        seed=opts.seed, prune_epochs=opts.prune_epochs)
    trainer.set_lr_schedule(opts.lr_schedule, opts.epochs)
    trainer.extra_arrays = stats.arrays()
    return trainer, (x_train, y_train, x_test, y_test)


def export_model(trainer, path):
    """Write the trained weights as a PyTorch ``state_dict`` to ``path`` and the input
    statistics beside it (:func:`~wafer_engine.sw.training.torch_io.stats_path`); returns
    both paths. Pruned weights are exact zeros in the export."""
    from wafer_engine.sw.training.torch_io import save_state_dict, stats_path
    model = save_state_dict(path, trainer.store.spec, trainer.store.weights)
    stats = stats_path(path)
    arrays = trainer.extra_arrays
    Standardizer(arrays["input_mean"], arrays["input_scale"]).save(stats)
    return model, stats


def _check_fits(spec, opts):
    """Every product of a step must map onto the array, in one run or several: check them
    all before training."""
    for k, ((m, n), (_, stored)) in enumerate(zip(spec.shapes, spec.stored_shapes)):
        # The engine pads a layer's inputs with never-streamed zero features up to the
        # array's columns (FabricEngine), so fewer inputs than columns fit.
        for what, plan, shape in (("forward", gemm_plan, (m, max(stored, opts.array.cols))),
                                  ("backward", gemm_plan, (n, max(m, opts.array.cols))),
                                  ("weight-gradient", wgrad_plan,
                                   (m, max(stored, opts.array.cols)))):
            if what == "backward" and k == 0:
                continue
            try:
                plan(*shape, opts.batch, opts.array)
            except ValueError as exc:
                raise ValueError(f"Layer {k} ({m} x {n}) {what} pass does not fit a "
                                 f"{opts.array.rows}x{opts.array.cols} array with batch {opts.batch}: "
                                 f"{exc}") from None


def _fabric_totals(engine):
    cycles = sum(engine.stats[p].cycles for p in PASSES)
    dense = sum(engine.dense_cycles[p] for p in PASSES)
    return {
        "cycles": cycles,
        "fmac_ops": sum(engine.stats[p].fmac_ops for p in PASSES),
        "zero_skipped": sum(engine.stats[p].zero_skipped for p in PASSES),
        "wavelets": sum(engine.stats[p].wavelets for p in PASSES),
        "dense_cycles": dense,
        "speedup_vs_dense": dense / cycles if cycles else None,
        "passes": {p: {"cycles": engine.stats[p].cycles, "fmac_ops": engine.stats[p].fmac_ops,
                       "wavelets": engine.stats[p].wavelets,
                       "dense_cycles": engine.dense_cycles[p],
                       "runs": engine.runs[p]} for p in PASSES},
    }


def run_training(trainer, data, epochs, checkpoint=None, progress=True, log=print):
    """Train until ``epochs`` epochs are done (resuming from ``checkpoint`` if it holds one),
    evaluating on the test set after each; returns the summary dict."""
    from tqdm import tqdm

    x_train, y_train, x_test, y_test = data
    resumed = None
    if checkpoint is not None and has_checkpoint(checkpoint):
        resumed = trainer.resume(checkpoint)["epoch"]
        log(f"resumed from {checkpoint} after epoch {resumed}")
    engine = trainer.engine
    first_step = trainer.step_count
    min_batch = getattr(engine, "rows", 1)
    steps = len(x_train) // trainer.batch
    # Evaluation runs on the fabric too; the counters report training steps only.
    uncounted = getattr(engine, "uncounted", nullcontext)
    while trainer.epoch < epochs:
        bar = tqdm(total=steps, desc=f"epoch {trainer.epoch + 1}/{epochs}", unit="step",
                   disable=None if progress else True, leave=False)

        def step_done(loss):
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}")
        loss = trainer.train_epoch(x_train, y_train, progress=step_done)
        bar.close()
        with uncounted():
            accuracy = trainer.evaluate(x_test, y_test, min_batch)
        trainer.history["loss"].append(loss)
        trainer.history["accuracy"].append(accuracy)
        trainer.history["sparsity"].append(trainer.store.zero_fraction())
        log(f"epoch {trainer.epoch}: loss {loss:.4f}, test accuracy {accuracy:.4f}, "
            f"weights zero {trainer.store.zero_fraction():.3f}")
        if checkpoint is not None:
            trainer.save(checkpoint)
    return summary(trainer, resumed, trainer.step_count - first_step)


def summary(trainer, resumed=None, steps_run=None):
    """The run's summary dict; ``steps_run``: the training steps this run took (the engine's
    counters cover them; default all of the trainer's)."""
    steps_run = trainer.step_count if steps_run is None else steps_run
    out = {"loss": trainer.history["loss"], "accuracy": trainer.history["accuracy"],
           "weight_sparsity": trainer.store.zero_fraction(), "epochs": trainer.epoch,
           "steps": trainer.step_count, "resumed_after_epoch": resumed,
           "lr_schedule": trainer.lr_schedule,
           "host": {"pack_seconds": trainer.scheduler.pack_seconds,
                    "wait_seconds": trainer.scheduler.wait_seconds,
                    "fabric_seconds": trainer.fabric_seconds,
                    "overlap": trainer.scheduler.overlap}}
    if hasattr(trainer.engine, "stats"):
        out.update(backend=trainer.engine.backend, array=[trainer.engine.rows,
                                                          trainer.engine.cols])
        out.update(_fabric_totals(trainer.engine))
    if getattr(trainer.engine, "traffic", None):
        out["host_traffic"] = host_traffic(trainer.engine.traffic, len(trainer.store.weights),
                                           steps_run)
    return out
