"""Layers larger than one run of the array: the engine cuts each product into runs
(sw/training/pass_plans.py) with the bits one run gives, on every backend, and a model of
several hidden layers that needs them trains as float64 does, within the arithmetic bound."""

import numpy as np
import pytest

from wafer_engine.rtl.params import ArrayParams
from wafer_engine.sw.training.bounds import logits_bound
from wafer_engine.sw.training.engines import Float64Engine
from wafer_engine.sw.training.job import TRAIN_ARRAY, TrainOptions, build_trainer, run_training
from wafer_engine.sw.training.pass_plans import gemm_plan, wgrad_plan

from small_trainer import BATCH, COLS, ONE_RUN, ROWS, SEVERAL_RUNS, small_trainer

SIZES = [8, 12, 12, 4]


def _trainer(backend, pe):
    return small_trainer(backend, pe, SIZES, seed=7)


def _bits(a):
    return np.asarray(a, np.float32).view(np.uint32)


def test_several_runs_give_the_bits_of_one_run():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((SIZES[0], BATCH)).astype(np.float32)
    labels = rng.integers(0, SIZES[-1], size=BATCH)
    one = _trainer("fast", ONE_RUN)
    runs = {b: _trainer(b, SEVERAL_RUNS) for b in ("fast", "golden")}
    loss, grads = one.gradients(x, labels)
    assert one.engine.runs["forward"] == len(SIZES) - 1
    for backend, t in runs.items():
        loss_b, grads_b = t.gradients(x, labels)
        assert loss_b == loss, backend
        for g, h in zip(grads, grads_b):
            assert np.array_equal(_bits(g), _bits(h)), backend
        assert t.engine.runs == {"forward": 6 + 6 + 2, "backward_data": 2 * 6,
                                 "weight_grad": 6 + 6 + 2}, backend
    assert all(np.count_nonzero(g) for g in grads)
    # The cycle counts differ (each run streams again), the work does not.
    for p, stats in one.engine.stats.items():
        assert stats.fmac_ops == runs["golden"].engine.stats[p].fmac_ops, p


def _within_bound(trainer, x, cols):
    with trainer.engine.uncounted():
        acts = trainer.forward(x)
    z, d = logits_bound(trainer.store.weights, acts, cols)
    return bool(np.all(np.abs(np.asarray(acts[-1], np.float64) - z) <= d))


def test_two_hidden_layers_in_several_runs_train_like_float64():
    """`wafer train --hidden 40,40` with drains of 128 (16 output rows of 8 batch columns per
    run: 3 runs per hidden layer) on digits, one epoch: its logits within float64's propagated
    bound (sw/training/bounds.py) at the initial weights and after the epoch, and its loss and
    accuracy against the float64 engine's on the same masks, weights and data order (as
    tests/test_train.py: loss within 1e-3 relative, measured 4.4e-6; accuracy within 3
    points, measured 0.3)."""
    array = ArrayParams.build(TRAIN_ARRAY, max_len=128)
    opts = TrainOptions(hidden=(40, 40), epochs=1, prune_epochs=0, array=array)
    fabric, data = build_trainer(opts)
    x = np.ascontiguousarray(data[0][:32].T)
    assert _within_bound(fabric, x, array.cols)
    result = run_training(fabric, data, 1, progress=False, log=lambda *_: None)
    assert result["passes"]["forward"]["runs"] == result["steps"] * (3 + 3 + 1)
    assert _within_bound(fabric, x, array.cols)
    exact, data = build_trainer(opts, engine=Float64Engine(), dtype=np.float64)
    reference = run_training(exact, data, 1, progress=False, log=lambda *_: None)
    assert abs(result["loss"][0] - reference["loss"][0]) <= 1e-3 * reference["loss"][0]
    assert abs(result["accuracy"][0] - reference["accuracy"][0]) <= 0.03


def test_products_that_no_run_holds_are_refused():
    params = ArrayParams.build(rows=ROWS, cols=COLS, **ONE_RUN)
    with pytest.raises(ValueError, match=r"^600 input features need 3 runs of a 2x2 array "
                                         r"\(at most 200 per run\); training does not split "
                                         r"input features$"):
        gemm_plan(4, 600, BATCH, params.replace(pe=params.pe.replace(mem_words=128)))
    with pytest.raises(ValueError, match=r"^The weight gradient of a batch of 200 needs 2 runs "
                                         r"of a 2x2 array; training does not split the batch: "
                                         r"use a smaller one$"):
        wgrad_plan(4, 8, 200, params)
    assert len({p.batch for p in gemm_plan(4, 8, 200, params).passes}) == 2   # GEMM: it may
