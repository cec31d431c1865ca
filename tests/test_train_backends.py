"""One full training step (forward, loss, weight gradients, backward data, update) on the RTL
array through cocotb and on the golden model: bit-identical losses, gradients and weights, for
a model with a bias (a weight column against a row of ones) on its first layer, none on its
second, and dropout on the second layer's input."""

import numpy as np

from wafer_engine.sw.training.engines import FabricEngine
from wafer_engine.sw.training.mlp import from_arrays, from_sizes, he_init
from wafer_engine.sw.training.optim import Sgd
from wafer_engine.sw.training.trainer import Trainer
from wafer_engine.sw.training.weight_store import WeightStore
from wafer_engine.rtl.params import ArrayParams

#: The smallest PE the GEMM and gradient mappings need for this model (3 colors; drains of
#: M x batch slice = 6 x 3 accumulators).
PE = dict(colors=3, mem_words=256, acc_words=64, max_len=64)


def _trainer(backend):
    rng = np.random.default_rng(3)
    w0, w1 = he_init(from_sizes([8, 6, 4]), rng)
    spec, weights = from_arrays([w0, w1], [rng.standard_normal(6) * 0.5, None],
                                dropout=[0.0, 0.25])
    store = WeightStore(spec, weights, 0.5, Sgd.state_names)
    return Trainer(store, Sgd(lr=0.5), FabricEngine(backend, ArrayParams.build(rows=2, cols=2, **PE)), batch=5)


def test_training_step_is_bit_identical_on_rtl_and_golden():
    rng = np.random.default_rng(4)
    x = np.maximum(rng.standard_normal((8, 5)), 0).astype(np.float32)
    labels = rng.integers(0, 4, size=5)
    golden, rtl = _trainer("fast"), _trainer("verilator")
    loss_g, grads_g = golden.gradients(x, labels)
    loss_r, grads_r = rtl.gradients(x, labels)
    assert loss_g == loss_r
    for g, r in zip(grads_g, grads_r):
        assert np.array_equal(np.asarray(g).view(np.uint32), np.asarray(r).view(np.uint32))
    assert any(np.count_nonzero(g) for g in grads_g)        # the step has something to check
    assert np.count_nonzero(grads_g[0][:, -1])              # the bias column's gradient
    assert golden.dropout_masks(5)[1] is not None
    for t in (golden, rtl):
        t.step(x, labels)
    for a, b in zip(golden.store.weights, rtl.store.weights):
        assert np.array_equal(a.view(np.uint32), b.view(np.uint32))
    # The RTL counted its own cycles; the golden model's estimate is within 5 % per pass.
    for p, stats in rtl.engine.stats.items():
        assert stats.fmac_ops == golden.engine.stats[p].fmac_ops
        assert abs(golden.engine.stats[p].cycles - stats.cycles) <= 0.05 * stats.cycles, p
