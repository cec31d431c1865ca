"""Training by weight streaming on the golden fabric: the reference check against float64 numpy
and PyTorch float32, the accuracy target, resuming, and the `wafer train` command's errors."""

import json
import hashlib

import numpy as np
import pytest

from wafer_engine.sw.cli.main import main
from wafer_engine.sw.training.data import check_data
from wafer_engine.sw.training.engines import FabricEngine, Float64Engine, TorchEngine
from wafer_engine.sw.training.trainer import Trainer, prune_schedule, softmax_xent
from wafer_engine.sw.training.job import TrainOptions, build_trainer, run_training

#: fp16 operands with fp32 accumulation against float64: the per-epoch mean losses of the first
#: epochs agree within this relative tolerance (measured: 4e-4 after 4 epochs).
FABRIC_LOSS_RTOL = 0.01
#: PyTorch float32 against float64 (measured: 5e-8).
TORCH_LOSS_RTOL = 1e-5


def _quiet(*_):
    pass


def _train(engine=None, dtype=np.float32, **kw):
    opts = TrainOptions(**kw)
    trainer, data = build_trainer(opts, engine=engine, dtype=dtype)
    return trainer, run_training(trainer, data, opts.epochs, progress=False, log=_quiet)


def test_loss_curves_agree_with_float64_and_torch():
    """Same masks (pruned at initialisation), initial weights and data order on every engine."""
    common = dict(epochs=3, prune_epochs=0)
    _, fabric = _train(**common)
    _, exact = _train(Float64Engine(), np.float64, **common)
    fab, ref = np.array(fabric["loss"]), np.array(exact["loss"])
    assert ref[-1] < ref[0]                                  # it is learning
    assert np.all(np.abs(fab - ref) <= FABRIC_LOSS_RTOL * ref), (fab, ref)
    assert np.all(np.abs(np.array(fabric["accuracy"]) - exact["accuracy"]) <= 0.03)
    pytest.importorskip("torch")
    _, torch_run = _train(TorchEngine(), np.float32, **common)
    assert np.all(np.abs(np.array(torch_run["loss"]) - ref) <= TORCH_LOSS_RTOL * ref)


def test_digits_reach_90_percent_with_90_percent_zeros():
    trainer, result = _train()                     # the defaults of `wafer train`
    assert result["weight_sparsity"] >= 0.9
    assert result["accuracy"][-1] >= 0.9, result["accuracy"]
    # Counters: every pass ran, zeros were never streamed, the speedup is measured.
    assert all(result["passes"][p]["cycles"] > 0 for p in result["passes"])
    assert result["speedup_vs_dense"] > 2
    assert result["steps"] == 15 * (1437 // 32)


def test_resume_repeats_the_uninterrupted_run(tmp_path):
    kw = dict(hidden=(16,), epochs=2, prune_epochs=2)
    straight, _ = _train(**kw)
    first, _ = _train(**dict(kw, epochs=1), checkpoint=None)
    first.save(tmp_path)
    resumed, data = build_trainer(TrainOptions(**kw))
    result = run_training(resumed, data, 2, checkpoint=tmp_path, progress=False, log=_quiet)
    assert result["resumed_after_epoch"] == 1
    for a, b in zip(straight.store.weights, resumed.store.weights):
        assert np.array_equal(a.view(np.uint32), b.view(np.uint32))
    assert straight.history["loss"] == resumed.history["loss"]


def test_memory_mapped_store_trains_identically(tmp_path):
    kw = dict(hidden=(16,), epochs=1, prune_epochs=1)
    in_ram, _ = _train(**kw)
    mapped, _ = _train(**kw, store_dir=str(tmp_path / "store"))
    assert isinstance(mapped.store.weights[0], np.memmap)
    for a, b in zip(in_ram.store.weights, mapped.store.weights):
        assert np.array_equal(a.view(np.uint32), np.asarray(b).view(np.uint32))


def test_prune_schedule_and_loss_gradient():
    assert prune_schedule(0.9, 0, 0) == 0.9
    assert [round(prune_schedule(0.9, e, 3), 4) for e in range(4)] == [0.6333, 0.8667, 0.9, 0.9]
    loss, grad = softmax_xent(np.zeros((4, 2)), np.array([0, 3]))
    assert loss == pytest.approx(np.log(4))
    assert np.allclose(grad[:, 0], [-0.375, 0.125, 0.125, 0.125])


def test_bad_data_and_options():
    with pytest.raises(ValueError, match=r"Samples must have shape \(S, 64\), not \(3, 8\)"):
        check_data(np.ones((3, 8)), np.zeros(3, int), 10, 64)
    with pytest.raises(ValueError, match="Samples hold NaN"):
        check_data(np.full((3, 64), np.nan), np.zeros(3, int), 10, 64)
    with pytest.raises(ValueError, match=r"Labels must lie in \[0, 10\), not \[0, 12\]"):
        check_data(np.ones((2, 64)), np.array([0, 12]), 10, 64)
    with pytest.raises(ValueError, match="Batch size must be a positive integer, not 0"):
        Trainer(None, None, FabricEngine(), batch=0)
    with pytest.raises(ValueError, match="Backend must be one of golden, verilator, not 'fpga'"):
        FabricEngine("fpga")


def _wafer(capsys, *args):
    code = main(["train", "--no-progress", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("args,message", [
    (["--sparsity", "1.0"], r"Sparsity must be in \[0, 1\), not 1.0"),
    (["--epochs", "0"], "Epochs must be a positive integer, not 0"),
    (["--hidden", "64,x"], "--hidden must be comma-separated integers, not '64,x'"),
    (["--batch", "2"], "Layer 0 .* forward pass does not fit a 4x4 array with batch 2: X has 2 "
                       "batch columns for 4 array rows"),
    (["--hidden", "600"], "Layer 0 .* does not fit .* 600 x 8 = 4800 accumulators"),
])
def test_wafer_train_errors(capsys, args, message):
    code, _, err = _wafer(capsys, *args)
    assert code == 2
    import re
    assert re.search("wafer train: error: " + message, err), err


def test_wafer_train_json_and_checkpoint_errors(capsys, tmp_path):
    ck = tmp_path / "ck"
    code, out, _ = _wafer(capsys, "--hidden", "16", "--epochs", "1", "--json", "--checkpoint",
                          str(ck))
    assert code == 0
    result = json.loads(out)
    assert len(result["loss"]) == len(result["accuracy"]) == 1
    for key in ("cycles", "fmac_ops", "zero_skipped", "wavelets", "speedup_vs_dense"):
        assert key in result
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in ck.iterdir()}
    # Another model in the same folder: refused, nothing overwritten.
    code, _, err = _wafer(capsys, "--hidden", "32", "--epochs", "2", "--checkpoint", str(ck))
    assert code == 2 and "is of model 'mlp:16x64,10x16', not 'mlp:32x64,10x32'" in err
    code, _, err = _wafer(capsys, "--hidden", "16", "--optimizer", "adam", "--epochs", "2",
                          "--checkpoint", str(ck))
    assert code == 2 and "was made with optimizer 'sgd', this run has 'adam'" in err
    assert files == {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in ck.iterdir()}
    # A corrupted checkpoint: refused by its checksum.
    npz = next(ck.glob("ckpt-*.npz"))
    npz.write_bytes(npz.read_bytes()[:-10])
    code, _, err = _wafer(capsys, "--hidden", "16", "--epochs", "2", "--checkpoint", str(ck))
    assert code == 2 and "is corrupted: SHA-256" in err
