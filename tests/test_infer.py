"""`wafer infer`: a trained checkpoint run weight-stationary on the fabric, predictions equal
to the training's own evaluation, bad input rejected."""

import json
import re

import numpy as np
import pytest

from wafer_engine.fabric.workloads.error_bound import chain_additions, reference_bound
from wafer_engine.sw.backends.run import run_workload
from wafer_engine.sw.cli.main import main
from wafer_engine.sw.inference.run import host_forward, infer_mlp
from wafer_engine.sw.inference.model import load_input_stats, load_mlp
from wafer_engine.sw.training.data import load_dataset
from wafer_engine.sw.training.job import TRAIN_ARRAY, TrainOptions, build_trainer, run_training

SAMPLES = 24


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 64-16-10 MLP trained one epoch at 50 % sparsity, checkpointed; its trainer and the
    first test samples, standardised as training saw them (``x.npy`` holds them raw, as a
    user gives them: ``wafer infer`` applies the checkpoint's statistics)."""
    folder = tmp_path_factory.mktemp("infer")
    opts = TrainOptions(hidden=(16,), epochs=1, sparsity=0.5, prune_epochs=0,
                        checkpoint=str(folder / "ckpt"))
    trainer, data = build_trainer(opts)
    run_training(trainer, data, 1, checkpoint=opts.checkpoint, progress=False,
                 log=lambda text: None)
    x = data[2][:SAMPLES]
    raw = load_dataset("digits")[2][:SAMPLES]
    assert np.array_equal(load_input_stats(folder / "ckpt").apply(raw), x)
    np.save(folder / "x.npy", raw)
    return folder, trainer, x


def golden(work):
    return run_workload(work, "golden")


def test_predictions_equal_the_training_evaluation(trained):
    folder, trainer, x = trained
    spec, weights, meta = load_mlp(folder / "ckpt")
    assert spec.signature == "mlp:16x64,10x16" and meta["epoch"] == 1
    for mine, theirs in zip(weights, trainer.store.weights):
        assert mine.tobytes() == np.ascontiguousarray(theirs).tobytes()
    result = infer_mlp(weights, x, TRAIN_ARRAY, golden)
    # Same sums in the same order as the training's forward pass: logits bit for bit.
    logits = np.asarray(trainer.forward(np.ascontiguousarray(x.T))[-1], dtype=np.float32)
    assert result.logits.tobytes() == logits.tobytes()
    assert np.array_equal(result.predictions, trainer.predict(x, min_batch=4))
    # Each layer within the float64 bound of its own fp16 inputs.
    acts = result.activations + [result.logits]
    for k, w in enumerate(weights):
        ref, bound = reference_bound(w, acts[k], chain_additions(w.shape[1], TRAIN_ARRAY.cols),
                                     relu=k < len(weights) - 1)
        assert np.all(np.abs(acts[k + 1] - ref) <= bound)
    assert np.allclose(host_forward(weights, x), result.logits, rtol=0, atol=0.05)


def test_activation_zeros_are_never_sent(trained):
    folder, _, x = trained
    _, weights, _ = load_mlp(folder / "ckpt")
    result = infer_mlp(weights, x, TRAIN_ARRAY, golden)
    for layer, w, h in zip(result.layers, weights, result.activations):
        nonzero = int(np.count_nonzero(h))
        # Every non-zero activation meets each of its resident weights once, every zero none.
        assert layer["fmac_ops"] == nonzero * w.shape[0]
        assert layer["zero_activations"] == h.size - nonzero
    totals = result.totals()
    assert 0 < totals["activation_sparsity"] < 1
    assert totals["speedup_vs_dense"] > 1


def test_cli_infer_writes_predictions(trained, capsys):
    folder, trainer, x = trained
    out = folder / "pred.npy"
    assert main(["infer", "--checkpoint", str(folder / "ckpt"), "--inputs",
                 str(folder / "x.npy"), "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    predictions = np.load(out)
    assert predictions.dtype == np.int64
    assert np.array_equal(predictions, trainer.predict(x, min_batch=4))
    assert summary["samples"] == SAMPLES and summary["accuracy"] is None
    assert summary["passes"] == 2 and summary["cycles"] > 0
    assert summary["fmac_ops"] == sum(layer["fmac_ops"] for layer in summary["layers"])
    assert summary["speedup_vs_dense"] == summary["dense_cycles"] / summary["cycles"]


def test_cli_infer_dataset_accuracy(trained, capsys):
    """On the digits test split (360 samples, about 30 s on the golden model) the accuracy
    is the one training reported after its epoch."""
    folder, trainer, _ = trained
    assert main(["infer", "--checkpoint", str(folder / "ckpt"), "--dataset", "digits",
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["samples"] == 360
    assert summary["accuracy"] == trainer.history["accuracy"][-1]


def _corrupt(folder):
    ckpt = sorted(folder.glob("ckpt-*.npz"))[-1]
    data = bytearray(ckpt.read_bytes())
    data[-10] ^= 0xFF
    ckpt.write_bytes(bytes(data))
    return ckpt


@pytest.mark.parametrize("make,flags,message", [
    (lambda f: None, ["--checkpoint", "{f}/none"], "--checkpoint '{f}/none': No such folder"),
    (lambda f: (f / "empty").mkdir(), ["--checkpoint", "{f}/empty"],
     "--checkpoint '{f}/empty': No checkpoint (latest.json missing)"),
    (lambda f: np.save(f / "x.npy", np.ones((3, 8))),
     ["--inputs", "{f}/x.npy"],
     "--inputs '{f}/x.npy': has 8 features per sample; the model takes 64"),
    (lambda f: np.save(f / "x.npy", np.ones(64)), ["--inputs", "{f}/x.npy"],
     "--inputs '{f}/x.npy': has shape (64,); a matrix (2 dimensions) is needed"),
    (lambda f: None, ["--inputs", "{f}/x.npy", "--dataset", "digits"],
     "argument --dataset: not allowed with argument --inputs"),
    (lambda f: None, ["--out", "{f}/no/p.npy"],
     "--out '{f}/no/p.npy': the folder '{f}/no' does not exist"),
    (lambda f: None, ["--backend", "fpga"],
     "argument --backend: invalid choice: 'fpga' (choose from 'golden', 'verilator')"),
    (lambda f: None, ["--rows", "0"],
     "--rows 0: Row count must be an integer between 1 and 1024, not 0"),
])
def test_cli_infer_bad_input(tmp_path, capsys, trained, make, flags, message):
    folder, _, _ = trained
    import shutil
    shutil.copytree(folder / "ckpt", tmp_path / "ckpt")
    make(tmp_path)
    argv = ["infer", "--checkpoint", str(tmp_path / "ckpt"), *[f.format(f=tmp_path)
                                                                for f in flags]]
    assert main(argv) == 2
    assert capsys.readouterr().err == f"wafer infer: error: {message.format(f=tmp_path)}\n"


def test_cli_infer_corrupted_checkpoint(tmp_path, capsys, trained):
    import shutil
    shutil.copytree(trained[0] / "ckpt", tmp_path / "ckpt")
    ckpt = _corrupt(tmp_path / "ckpt")
    assert main(["infer", "--checkpoint", str(tmp_path / "ckpt"), "--out",
                 str(tmp_path / "p.npy")]) == 2
    err = capsys.readouterr().err
    assert re.fullmatch(rf"wafer infer: error: --checkpoint '{re.escape(str(tmp_path))}/ckpt': "
                        rf"Checkpoint {re.escape(str(ckpt))} is corrupted: SHA-256 [0-9a-f]{{16}}"
                        rf"\.\.\. does not match [0-9a-f]{{16}}\.\.\.\n", err)
    assert not (tmp_path / "p.npy").exists()


def test_a_model_with_biases_infers_as_it_trained(tmp_path):
    """Biases are the weights' last column, met by a constant-one input row: the fabric's
    logits equal the training's forward pass bit for bit."""
    opts = TrainOptions(dataset="iris", hidden=(8,), bias=True, epochs=1, sparsity=0.5,
                        prune_epochs=0, batch=8, checkpoint=str(tmp_path / "ckpt"),
                        array=TRAIN_ARRAY.replace(rows=1, cols=2))
    trainer, data = build_trainer(opts)
    run_training(trainer, data, 1, checkpoint=opts.checkpoint, progress=False,
                 log=lambda text: None)
    spec, weights, _ = load_mlp(tmp_path / "ckpt")
    assert spec.bias == (True, True) and weights[0].shape == (8, 5)
    x = data[2][:8]
    result = infer_mlp(weights, x, opts.array, golden, bias=spec.bias)
    logits = np.asarray(trainer.forward(np.ascontiguousarray(x.T))[-1], dtype=np.float32)
    assert result.logits.tobytes() == logits.tobytes()
    assert np.allclose(host_forward(weights, x, bias=spec.bias), result.logits, rtol=0,
                       atol=0.05)
