"""The host stack's parts: weight packing, the weight store and pruning, optimizers, atomic
checkpoints, model descriptions, the stream scheduler; every error message."""

import json
import os

import numpy as np
import pytest

from wafer_engine.fabric.workloads.gemm import W_COLOR, gemm_program
from wafer_engine.rtl.ports import Port
from wafer_engine.sw.training import checkpoint as ckpt
from wafer_engine.sw.training.engines import Float64Engine
from wafer_engine.sw.training.mlp import from_arrays, from_sizes, he_init
from wafer_engine.sw.training.optim import Adam, Sgd, lr_factor, make_optimizer
from wafer_engine.sw.training.packing import PackPlan, pack_weights, unpack_weights
from wafer_engine.sw.training.scheduler import StreamScheduler
from wafer_engine.sw.training.trainer import Trainer
from wafer_engine.sw.training.weight_store import WeightStore, check_sparsity, magnitude_mask
from wafer_engine.rtl.params import ArrayParams


def _store(sparsity=0.5, state=("velocity",), **kw):
    spec = from_sizes([6, 5, 3])
    return WeightStore(spec, he_init(spec, np.random.default_rng(1)), sparsity, state, **kw)


# -- packing ---------------------------------------------------------------------------------
@pytest.mark.parametrize("m,n,cols", [(7, 9, 2), (64, 64, 4), (3, 5, 5), (10, 64, 4)])
def test_packed_stream_is_the_mappings_stream(m, n, cols):
    rng = np.random.default_rng(m + n)
    w = (rng.standard_normal((m, n)) * (rng.random((m, n)) < 0.3)).astype(np.float32)
    w[0, 0] = 1e-9                                   # rounds to an fp16 zero: never sent
    mask = rng.random((m, n)) < 0.8
    packed = pack_weights(w, mask, cols)
    work = gemm_program(np.where(mask, w, 0), np.ones((n, 1)), ArrayParams.build(colors=3, rows=1, cols=cols))
    stream = work.phases[0]
    for c in range(cols):
        assert packed.payloads[c].tolist() == [wv.payload for wv in stream[(Port.N, c)]]
        assert all(wv.color == W_COLOR for wv in stream[(Port.N, c)])
    w16 = unpack_weights(packed)
    assert np.array_equal(w16.view(np.float16).astype(np.float32),
                          np.where(mask, w, 0).astype(np.float16).astype(np.float32))


def test_packing_fills_the_index_at_the_limit():
    """2048 rows of 20 features per column (jbits 5): the last weight's index is
    2047 << 5 | 19 = 65523, row 2047 the last the 16-bit field holds; it comes back in place."""
    w = np.ones((2048, 20), dtype=np.float32)
    w[-1, -1] = 3.0
    packed = pack_weights(w, np.ones(w.shape, bool), 1)
    assert int(packed.payloads[0][-1]) >> 16 == 65523
    assert np.array_equal(unpack_weights(packed).view(np.float16), w.astype(np.float16))


@pytest.mark.parametrize("call,message", [
    (lambda: pack_weights(np.ones((3, 4)), np.ones((4, 3), bool), 2),
     r"Mask of shape \(4, 3\) does not match weights of shape \(3, 4\)"),
    (lambda: pack_weights(np.ones((3, 4)), np.ones((3, 4), bool), 2,
                          PackPlan(np.ones((4, 3), bool), 2)),
     r"Pack plan of shape \(4, 3\) does not match weights of shape \(3, 4\)"),
    (lambda: pack_weights(np.ones(4), np.ones(4, bool), 2),
     r"The mask must be a matrix, not of shape \(4,\)"),
    (lambda: pack_weights(np.ones((5000, 20)), np.ones((5000, 20), bool), 1),
     r"W has 5000 rows; the 16-bit weight index \(i << 5\) \| j of 20 input features per "
     r"array column addresses at most 2048"),
    (lambda: pack_weights(np.ones((2049, 40)), np.ones((2049, 40), bool), 2),
     r"W has 2049 rows; the 16-bit weight index \(i << 5\) \| j of 20 input features per "
     r"array column addresses at most 2048"),
    (lambda: PackPlan(np.ones((70000, 1), bool), 1),
     r"W has 70000 rows; the 16-bit weight index \(i << 0\) \| j of 1 input features per "
     r"array column addresses at most 65536"),
])
def test_packing_errors(call, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        call()


# -- weight store ----------------------------------------------------------------------------
def test_magnitude_mask_keeps_the_largest():
    w = np.array([[0.1, -3.0, 2.0], [0.5, 0.0, -0.2]])
    assert magnitude_mask(w, 0.5).tolist() == [[False, True, True], [True, False, False]]
    assert magnitude_mask(w, 0.99).sum() == 1          # at least one weight survives


def test_store_masks_and_prunes():
    store = _store(sparsity=[0.5, 0.0])
    assert store.masks[0].sum() == 15 and store.masks[1].all()
    assert np.all(store.weights[0][~store.masks[0]] == 0)
    store.state[0]["velocity"][...] = 1
    store.prune([0.8, 0.5])
    assert store.masks[0].sum() == 6 and store.masks[1].sum() == 7
    assert np.all(store.state[0]["velocity"][~store.masks[0]] == 0)
    assert store.zero_fraction() == pytest.approx(1 - (6 + 7) / 45)


def test_store_memory_maps_its_arrays(tmp_path):
    store = _store(directory=tmp_path / "store")
    assert isinstance(store.weights[0], np.memmap)
    store.weights[0][0, 0] = 42.0
    store.weights[0].flush()
    assert np.load(tmp_path / "store" / "w0.npy", mmap_mode="r")[0, 0] == 42.0


@pytest.mark.parametrize("value,message", [
    (1.0, r"Sparsity must be in \[0, 1\), not 1.0"), (-0.1, r"not -0.1"),
    ("x", "must be a number"), (float("nan"), "not nan")])
def test_sparsity_errors(value, message):
    with pytest.raises(ValueError, match=message):
        check_sparsity(value)


def test_store_errors():
    spec = from_sizes([4, 2])
    with pytest.raises(ValueError, match=r"Layer 0 weights have shape \(3, 4\), the model says"):
        WeightStore(spec, [np.ones((3, 4))], 0.5)
    with pytest.raises(ValueError, match="Layer 0 weights hold NaN"):
        WeightStore(spec, [np.full((2, 4), np.inf)], 0.5)
    with pytest.raises(ValueError, match="Got 2 sparsity values for 1 layers"):
        WeightStore(spec, [np.ones((2, 4))], [0.1, 0.2])
    with pytest.raises(ValueError, match=r"Layer 0 sparsity must be in \[0, 1\), not 1.5"):
        WeightStore(spec, [np.ones((2, 4))], 1.5)


# -- optimizers ------------------------------------------------------------------------------
def test_sgd_momentum_and_mask():
    w = np.array([1.0, 2.0], dtype=np.float32)
    mask = np.array([True, False])
    state = {"velocity": np.zeros(2, np.float32)}
    opt = Sgd(lr=0.5, momentum=0.5)
    opt.step(w, np.array([1.0, 1.0], np.float32), mask, state, 1)
    opt.step(w, np.array([1.0, 1.0], np.float32), mask, state, 2)
    # v = 1, then 1.5: w = 1 - 0.5 - 0.75; the pruned weight is zeroed and stays so.
    assert w.tolist() == [-0.25, 0.0] and state["velocity"].tolist() == [1.5, 0.0]


def test_adam_first_step_is_lr_sized():
    w = np.zeros(3, dtype=np.float32)
    state = {"m": np.zeros(3, np.float32), "v": np.zeros(3, np.float32)}
    Adam(lr=0.01).step(w, np.array([2.0, -3.0, 0.0], np.float32), np.ones(3, bool), state, 1)
    assert np.allclose(w, [-0.01, 0.01, 0.0], atol=1e-6)


def test_cosine_schedule_anneals_each_epoch():
    """The factor falls from 1 by (1 + cos(pi e / E)) / 2, and a trainer with the schedule
    trains epoch e at that fraction of its optimizer's rate."""
    assert [lr_factor("cosine", e, 4) for e in range(4)] == pytest.approx(
        [1.0, (1 + 2 ** -0.5) / 2, 0.5, (1 - 2 ** -0.5) / 2])
    assert lr_factor("constant", 3, 4) == 1.0
    rng = np.random.default_rng(0)
    spec = from_sizes([4, 3, 2])
    store = WeightStore(spec, he_init(spec, rng), 0.0, Sgd.state_names)
    trainer = Trainer(store, Sgd(lr=0.2), Float64Engine(), batch=4)
    trainer.set_lr_schedule("cosine", 4)
    x, labels = rng.standard_normal((8, 4)), rng.integers(0, 2, 8)
    rates = []
    for _ in range(3):
        trainer.train_epoch(x, labels)
        rates.append(trainer.optimizer.lr)
    assert rates == pytest.approx([0.2, 0.2 * (1 + 2 ** -0.5) / 2, 0.1])
    with pytest.raises(ValueError, match="Epochs must be a positive integer, not 0"):
        trainer.set_lr_schedule("cosine", 0)


@pytest.mark.parametrize("call,message", [
    (lambda: make_optimizer("rmsprop"), "Optimizer must be one of sgd, adam, not 'rmsprop'"),
    (lambda: lr_factor("step", 0, 4),
     "Learning-rate schedule must be one of cosine, constant, not 'step'"),
    (lambda: Sgd(lr=0), "Learning rate must be positive, not 0"),
    (lambda: Sgd(momentum=1.0), r"Momentum must be in \[0, 1\), not 1.0"),
    (lambda: Adam(beta2=1.0), r"Adam beta2 must be in \[0, 1\), not 1.0")])
def test_optimizer_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# -- checkpoints -----------------------------------------------------------------------------
#: Metadata of the round-trip checkpoints: every kind of JSON value a trainer stores.
_META = {"step": 3, "epoch": 2, "batch": 32, "optimizer": "sgd", "lr": 0.05,
         "history": {"loss": [2.3, 1.1], "accuracy": [0.5, 0.8]}, "prune": None}


def _saved_state():
    """A store whose every array differs from a fresh ``_store()``'s: weights, masks (pruned
    further), optimizer state (random, zero off the masks)."""
    store = _store()
    store.prune([0.7, 0.6])
    rng = np.random.default_rng(9)
    for k, state in enumerate(store.state):
        state["velocity"][...] = rng.standard_normal(state["velocity"].shape) * store.masks[k]
    store.weights[1][...] *= 3
    return store


def _restore(tmp_path, store):
    """Save ``store`` with :data:`_META` (three times, so the pointer names the newest), load
    it into a fresh store holding other values; returns ``(fresh store, loaded metadata)``."""
    for step in (1, 2, _META["step"]):
        ckpt.save_checkpoint(tmp_path, store, dict(_META, step=step))
    other = _store()
    other.weights[0][...] = 7
    return other, ckpt.load_checkpoint(tmp_path, other)


def _assert_same_state(store, other, meta):
    """Every array of the saved state (names, dtypes, bits) and every metadata key and value
    came back."""
    mine, back = store.arrays(), other.arrays()
    assert sorted(back) == sorted(mine)
    for name, a in mine.items():
        assert back[name].dtype == a.dtype and back[name].tobytes() == a.tobytes(), name
    for key, value in _META.items():
        assert key in meta and meta[key] == value, key


def test_checkpoint_round_trip_and_rotation(tmp_path):
    store = _saved_state()
    other, meta = _restore(tmp_path, store)
    assert sorted(p.name for p in tmp_path.glob("ckpt-*.npz")) == [
        "ckpt-00000002.npz", "ckpt-00000003.npz"]
    assert sorted(store.arrays()) == ["mask0", "mask1", "velocity0", "velocity1", "w0", "w1"]
    _assert_same_state(store, other, meta)


@pytest.mark.parametrize("dropped", ["w0", "w1", "mask0", "mask1", "velocity0",
                                     "velocity1", *_META])
def test_round_trip_check_catches_a_lossy_loader(tmp_path, monkeypatch, dropped):
    """A loader that loses one array (the fresh store keeps its own) or one metadata key
    fails the round-trip comparison: each of them differs between the saved state and a
    fresh store, so each is checked."""
    store = _saved_state()
    if dropped in _META:
        load = ckpt.load_checkpoint
        monkeypatch.setattr(ckpt, "load_checkpoint", lambda *args: {
            k: v for k, v in load(*args).items() if k != dropped})
    else:
        load_arrays = WeightStore.load_arrays
        monkeypatch.setattr(WeightStore, "load_arrays", lambda self, arrays: load_arrays(
            self, {**arrays, dropped: self.arrays()[dropped].copy()}))
    other, meta = _restore(tmp_path, store)
    with pytest.raises(AssertionError):
        _assert_same_state(store, other, meta)


def test_crash_mid_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    store = _store()
    ckpt.save_checkpoint(tmp_path, store, {"step": 1})
    saved = store.weights[0].copy()
    store.weights[0][...] = 9

    def crash(src, dst):
        raise OSError("power failure")
    monkeypatch.setattr(ckpt.os, "replace", crash)
    with pytest.raises(OSError, match="power failure"):
        ckpt.save_checkpoint(tmp_path, store, {"step": 2})
    monkeypatch.setattr(ckpt.os, "replace", os.replace)
    fresh = _store()
    assert ckpt.load_checkpoint(tmp_path, fresh)["step"] == 1
    assert np.array_equal(fresh.weights[0], saved)


def test_checkpoint_errors_leave_the_store_untouched(tmp_path):
    store = _store()
    before = store.weights[0].copy()
    with pytest.raises(ValueError, match=r"No checkpoint in .* \(latest.json missing\)"):
        ckpt.load_checkpoint(tmp_path, store)
    path = ckpt.save_checkpoint(tmp_path, _store(sparsity=0.1), {"step": 5})
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="is corrupted: SHA-256"):
        ckpt.load_checkpoint(tmp_path, store)
    assert np.array_equal(store.weights[0], before)
    spec = from_sizes([6, 4, 3])
    other = WeightStore(spec, he_init(spec, np.random.default_rng(0)), 0.5)
    ckpt.save_checkpoint(tmp_path, other, {"step": 6})
    with pytest.raises(ValueError, match="is of model 'mlp:4x6,3x4', not 'mlp:5x6,3x5'"):
        ckpt.load_checkpoint(tmp_path, store)
    path.unlink(missing_ok=True)
    pointer = json.loads((tmp_path / ckpt.POINTER).read_text())
    (tmp_path / pointer["file"]).unlink()
    with pytest.raises(ValueError, match="named by .* is missing"):
        ckpt.load_checkpoint(tmp_path, store)
    assert np.array_equal(store.weights[0], before)


# -- model descriptions ----------------------------------------------------------------------
def test_model_descriptions():
    spec = from_sizes([64, 32, 10])
    assert spec.shapes == ((32, 64), (10, 32)) and spec.signature == "mlp:32x64,10x32"
    spec2, arrays = from_arrays([np.ones((32, 64)), np.ones((10, 32))])
    assert spec2 == spec and arrays[0].dtype == np.float32
    with pytest.raises(ValueError, match="Layer 1 takes 31 inputs but layer 0 gives 32"):
        from_arrays([np.ones((32, 64)), np.ones((10, 31))])
    with pytest.raises(ValueError, match="Layer 0 weights hold NaN"):
        from_arrays([np.full((2, 2), np.nan)])
    with pytest.raises(ValueError, match="need at least inputs and outputs"):
        from_sizes([4])


def test_models_with_biases():
    """A bias is the stored matrix's last column: zero from he_init, in the signature, and
    dense in the store unless pruned on purpose (tests/test_torch_io.py imports from PyTorch)."""
    spec = from_sizes([6, 4, 3], bias=True)
    assert spec.signature == "mlp:4x6+b,3x4+b" and spec.stored_shapes == ((4, 7), (3, 5))
    init = he_init(spec, np.random.default_rng(0))
    assert [w.shape for w in init] == [(4, 7), (3, 5)] and not init[0][:, -1].any()
    spec2, arrays = from_arrays([np.ones((4, 6)), np.ones((3, 4))], [np.arange(4), None])
    assert spec2.bias == (True, False) and arrays[0][:, -1].tolist() == [0, 1, 2, 3]
    store = WeightStore(spec2, arrays, 0.5)
    assert store.masks[0][:, -1].all() and store.zero_fraction() == 0.5
    with pytest.raises(ValueError, match=r"^Layer 0 bias must have shape \(4,\), not \(3,\)$"):
        from_arrays([np.ones((4, 6))], [np.ones(3)])
    with pytest.raises(ValueError, match=r"^Layer 0 bias holds NaN or infinite values$"):
        from_arrays([np.ones((4, 6))], [np.full(4, np.inf)])
    with pytest.raises(ValueError, match=r"^Got 1 bias entries for 2 layers$"):
        type(spec)(((4, 6), (3, 4)), bias=(True,))


# -- scheduler -------------------------------------------------------------------------------
def test_scheduler_prepares_in_order_and_measures():
    calls = []
    sched = StreamScheduler(lambda w, m, v: calls.append(w) or w * 2)
    sched.submit("a", 1, None)
    sched.submit("b", 2, None)
    assert sched.get("a") == 2 and sched.get("b") == 4
    assert calls == [1, 2] and sched.streams == 2
    assert 0.0 <= sched.overlap <= 1.0 and sched.pack_seconds > 0
    sched.close()


# -- engines ---------------------------------------------------------------------------------
def test_layers_narrower_than_the_array_are_padded():
    """3 input features on 4 array columns (the backward pass of a 3-class output layer): the
    engine pads never-streamed zero features; fast and cycle-exact models agree bit for bit,
    the gradient keeps the layer's shape, and the product is W X."""
    from wafer_engine.sw.training.engines import FabricEngine
    rng = np.random.default_rng(0)
    params = ArrayParams.build(colors=3, max_len=512, rows=2, cols=4)
    w = rng.standard_normal((6, 3)).astype(np.float32)
    mask = rng.random((6, 3)) < 0.7
    x, dy = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((6, 4))
    runs = []
    for backend in ("fast", "golden"):
        engine = FabricEngine(backend, params)
        runs.append((np.asarray(engine.forward(0, engine.prepare(w, mask), mask, x, False)),
                     np.asarray(engine.weight_grad(0, mask, dy, x))))
    (y, g), (y_golden, g_golden) = runs
    assert np.array_equal(y, y_golden) and np.array_equal(g.view(np.uint32),
                                                          g_golden.view(np.uint32))
    assert g.shape == (6, 3) and np.all(g[~mask] == 0)
    from wafer_engine.fabric.workloads.error_bound import chain_additions, reference_bound
    ref, bound = reference_bound(np.where(mask, w, 0), x, chain_additions(3, 4))
    assert np.all(np.abs(y - ref) <= bound)
