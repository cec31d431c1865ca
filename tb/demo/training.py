"""`make demo`: the main job on the default configuration.

1. The Verilog of the default 4x4 array (the training PE: 3 colors, 4096-word memory).
2. Train the sparse MLP (64-64-10, 90 % of the weights zero) on scikit-learn's digits by weight
   streaming on the fast functional model (bit-exact with the RTL); the float64 reference
   trains alongside for the plot.
3. One training step on the RTL array (Verilator, cocotb, in lockstep with the cycle-exact
   model) and the same step on the fast model: losses, gradients and updated weights must be
   bit-identical.
4. A report (Markdown + PNG) in build/demo/.
"""

import json
import time

import numpy as np

from wafer_engine.sw.flows.array_verilog import TOP_NAME, write_array_verilog
from wafer_engine.sw.training.engines import Float64Engine
from wafer_engine.sw.training.report import write_report
from wafer_engine.sw.training.job import TrainOptions, build_trainer, run_training

from wafer_engine.sw.sim.verilator import BUILD_DIR

OUT = BUILD_DIR / "demo"


def _train(opts, engine=None, dtype=np.float32, progress=True):
    trainer, data = build_trainer(opts, engine=engine, dtype=dtype)
    log = print if progress else (lambda *_: None)
    return trainer, data, run_training(trainer, data, opts.epochs, progress=progress, log=log)


#: Samples in the RTL step: 2 per array row keeps the lock-step simulation to a minute or two
#: (the GRAD dot products take 4 cycles per sample and position).
RTL_BATCH = 8


def rtl_step(opts, data):
    """One step from the same initial state on the RTL and the fast model, batch
    ``opts.batch``; returns ``(identical, seconds, rtl cycles per pass)``."""
    x_train, y_train = data[0], data[1]
    idx = np.arange(opts.batch)
    x, labels = np.ascontiguousarray(x_train[idx].T), y_train[idx]
    runs = {}
    start = time.perf_counter()
    for backend in ("fast", "verilator"):
        trainer, _ = build_trainer(TrainOptions(**{**opts.__dict__, "backend": backend}))
        loss, grads = trainer.gradients(x, labels)
        trainer.step(x, labels)
        runs[backend] = (loss, grads, trainer.store.weights, trainer.engine.stats)
    (lg, gg, wg, _), (lr, gr, wr, stats) = runs["fast"], runs["verilator"]
    same = lg == lr and all(np.array_equal(np.asarray(a).view(np.uint32),
                                           np.asarray(b).view(np.uint32))
                            for a, b in list(zip(gg, gr)) + list(zip(wg, wr)))
    return same, time.perf_counter() - start, {p: s.cycles for p, s in stats.items()}


def main():
    total = time.perf_counter()
    opts = TrainOptions()
    verilog, seconds = write_array_verilog(opts.array, OUT / "verilog")
    print(f"{opts.array.rows}x{opts.array.cols} array Verilog (top {TOP_NAME}, PE "
          f"{opts.array.pe}): {verilog} "
          f"({seconds:.1f} s)")

    print(f"\nTraining 64-{opts.hidden[0]}-10 on digits, {opts.sparsity:.0%} of weights zero "
          f"(magnitude pruning over {opts.prune_epochs} epochs), {opts.optimizer}, batch "
          f"{opts.batch}, {opts.epochs} epochs, fast functional model of the "
          f"{opts.array.rows}x{opts.array.cols} fabric")
    start = time.perf_counter()
    trainer, data, result = _train(opts)
    golden_s = time.perf_counter() - start
    _, _, reference = _train(opts, Float64Engine(), np.float64, progress=False)
    result["reference_loss"] = reference["loss"]
    print(f"fabric: {result['cycles']:,} cycles for {result['steps']} steps "
          f"({result['dense_cycles']:,} dense: {result['speedup_vs_dense']:.2f}x faster), "
          f"{golden_s:.0f} s")

    print("\nOne training step on the RTL array (Verilator; builds the array the first time)")
    rtl_opts = TrainOptions(**{**opts.__dict__, "batch": RTL_BATCH})
    same, rtl_s, rtl_cycles = rtl_step(rtl_opts, data)
    verdict = ("bit-identical to the fast model (loss, gradients, updated weights)" if same
               else "MISMATCH between the RTL and the fast model")
    print(f"RTL step: {verdict}; RTL cycles per pass {rtl_cycles}; {rtl_s:.0f} s")

    config = {"model": f"64-{opts.hidden[0]}-10 MLP, no bias, ReLU",
              "dataset": "scikit-learn digits, 1437 train / 360 test",
              "weights zero": f"{result['weight_sparsity']:.4f}",
              "optimizer": f"{opts.optimizer} (host)", "batch": opts.batch,
              "fabric": f"{opts.array.rows}x{opts.array.cols} tiles, {opts.array.pe!r}",
              "array Verilog": f"`{verilog}` (top `{TOP_NAME}`)"}
    extra = ["## RTL check", "",
             f"One training step (batch {RTL_BATCH}) on the RTL array through Verilator: "
             f"{verdict}. RTL cycles per pass: {json.dumps(rtl_cycles)}.", ""]
    report = write_report(OUT, result, config, extra)
    (OUT / "result.json").write_text(json.dumps(result, indent=1))
    print(f"\nfinal test accuracy {result['accuracy'][-1]:.2%}; report {report}, plot "
          f"{OUT / 'training.png'}, numbers {OUT / 'result.json'} "
          f"({time.perf_counter() - total:.0f} s in all)")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
