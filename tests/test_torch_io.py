"""PyTorch in and out: which nn.Sequential models import (biases, dropout, identity, flatten)
and every refusal, biases and dropout on the fabric against PyTorch's autograd, models from a
Python file, and the export round trip (strict load, zeros kept, same predictions)."""

import json
import re

import numpy as np
import pytest

from wafer_engine.sw.cli.main import main
from wafer_engine.sw.training.bounds import decisive, logits_bound
from wafer_engine.sw.training.engines import Float64Engine
from wafer_engine.sw.training.job import TrainOptions, build_trainer, export_model, run_training
from wafer_engine.sw.training.mlp import from_torch
from wafer_engine.sw.training.optim import Sgd
from wafer_engine.sw.training.standardize import load_standardizer
from wafer_engine.sw.training.torch_io import load_model_file, load_state_dict, stats_path
from wafer_engine.sw.training.trainer import Trainer
from wafer_engine.sw.training.weight_store import WeightStore

torch = pytest.importorskip("torch")
nn = torch.nn

MODEL_FILE = """
import torch.nn as nn
model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 10))
not_a_model = 3
"""


def _quiet(*_):
    pass


def test_import_takes_bias_dropout_identity_flatten():
    model = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(8, 5), nn.ReLU(),
                          nn.Identity(), nn.Dropout(0.5), nn.Dropout(0.5),
                          nn.Linear(5, 3, bias=False))
    spec, arrays = from_torch(model)
    assert spec.shapes == ((5, 8), (3, 5)) and spec.bias == (True, False)
    assert spec.dropout == (pytest.approx(0.2), 0.75)     # two dropouts in a row compose
    assert spec.names == ("2", "7") and spec.signature == "mlp:5x8+b,3x5"
    assert spec.stored_shapes == ((5, 9), (3, 5))
    assert np.array_equal(arrays[0][:, :8], model[2].weight.detach().numpy())
    assert np.array_equal(arrays[0][:, 8], model[2].bias.detach().numpy())
    assert np.array_equal(arrays[1], model[7].weight.detach().numpy())


@pytest.mark.parametrize("modules,message", [
    (lambda: [nn.Linear(8, 5), nn.Sigmoid(), nn.Linear(5, 3)],
     r"Module 1 \(Sigmoid\) is not supported: use Linear, ReLU, Dropout, Identity or Flatten"),
    (lambda: [nn.Sequential(nn.Linear(8, 3))],
     r"Module 0 \(Sequential\) is not supported: use Linear, ReLU, Dropout, Identity or "
     r"Flatten"),
    (lambda: [nn.Linear(8, 5), nn.Linear(5, 3)],
     r"Module 1 \(Linear\) follows a Linear without a ReLU between them"),
    (lambda: [nn.ReLU(), nn.Linear(8, 3)],
     r"Module 0 \(ReLU\) must follow a Linear \(one ReLU per hidden layer\)"),
    (lambda: [nn.Linear(8, 5), nn.ReLU(), nn.ReLU(), nn.Linear(5, 3)],
     r"Module 2 \(ReLU\) must follow a Linear \(one ReLU per hidden layer\)"),
    (lambda: [nn.Linear(8, 5), nn.ReLU()],
     r"The model must end with a Linear layer \(its outputs are the logits\), not a ReLU"),
    (lambda: [nn.Linear(8, 5), nn.Dropout(0.5)],
     r"Module 1 \(Dropout\) follows the last Linear: its outputs are the logits"),
    (lambda: [nn.Dropout(1.0), nn.Linear(8, 5)],
     r"Module 0 \(Dropout\) must drop with a probability in \[0, 1\), not 1.0"),
    (lambda: [nn.Flatten(0), nn.Linear(8, 5)],
     r"Module 0 \(Flatten\) must flatten dimensions 1 to -1, not 0 to -1"),
    (lambda: [nn.Identity()], r"The model has no Linear layer"),
])
def test_import_refusals(modules, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        from_torch(nn.Sequential(*modules()))


def test_import_needs_a_sequential():
    with pytest.raises(ValueError, match=r"^The model must be an nn.Sequential, not Linear$"):
        from_torch(nn.Linear(3, 2))


def _torch_model(dropout):
    torch.manual_seed(5)
    return nn.Sequential(nn.Dropout(dropout), nn.Linear(6, 5), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3, bias=False)).double()


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_bias_and_dropout_gradients_match_autograd(dropout):
    """The trainer's step (bias as a weight column against a row of ones, dropout masks on
    the host) on exact float64 products gives PyTorch's autograd gradients, the biases'
    included, with the trainer's dropout masks put into the PyTorch forward pass."""
    model = _torch_model(dropout)
    spec, arrays = from_torch(model)
    store = WeightStore(spec, [a.astype(np.float64) for a in arrays], 0.0, Sgd.state_names,
                        dtype=np.float64)
    trainer = Trainer(store, Sgd(), Float64Engine(), batch=7, seed=2)
    rng = np.random.default_rng(0)
    x, labels = rng.standard_normal((6, 7)), rng.integers(0, 3, 7)
    masks = trainer.dropout_masks(7)
    loss, grads = trainer.gradients(x, labels)
    assert (masks[0] is None) == (dropout == 0)
    if dropout:
        assert 0 < np.mean(masks[0] == 0) < 1           # some inputs dropped, not all

    h = torch.from_numpy(x.T.copy())
    linears = [m for m in model if isinstance(m, nn.Linear)]
    for k, lin in enumerate(linears):
        if masks[k] is not None:
            h = h * torch.from_numpy(masks[k].T.astype(np.float64))
        h = lin(h)
        if k < len(linears) - 1:
            h = torch.relu(h)
    ref = nn.functional.cross_entropy(h, torch.from_numpy(labels))
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-12)
    for k, lin in enumerate(linears):
        n = lin.in_features
        assert np.allclose(grads[k][:, :n], lin.weight.grad.numpy(), rtol=1e-10, atol=1e-14)
        if lin.bias is not None:
            assert np.allclose(grads[k][:, n], lin.bias.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_bias_pruning_is_the_users_choice():
    model = nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 4))
    spec, arrays = from_torch(model)
    dense_bias = WeightStore(spec, arrays, 0.75)
    pruned_bias = WeightStore(spec, arrays, 0.75, prune_bias=True)
    for store, bias_kept in ((dense_bias, [8, 4]), (pruned_bias, [2, 1])):
        assert [int(m[:, -1].sum()) for m in store.masks] == bias_kept
        assert store.zero_fraction() == 0.75                  # weights only, biases aside
        for w, m in zip(store.weights, store.masks):
            assert np.all(w[~m] == 0)


def _model_file(tmp_path, text=MODEL_FILE):
    path = tmp_path / "my_model.py"
    path.write_text(text)
    return path


def test_model_file_loads_and_is_seeded(tmp_path):
    path = _model_file(tmp_path)
    a, b = load_model_file(f"{path}:model", seed=1), load_model_file(f"{path}:model", seed=1)
    assert isinstance(a, nn.Sequential)
    assert torch.equal(a[0].weight, b[0].weight)              # PyTorch's init, seeded
    assert not torch.equal(a[0].weight, load_model_file(f"{path}:model", seed=2)[0].weight)


@pytest.mark.parametrize("reference,message", [
    ("{path}", r"--model must be FILE.py:NAME, not '{path}'"),
    ("{path}:", r"--model must be FILE.py:NAME, not '{path}:'"),
    ("{missing}:model", r"Model file {missing} does not exist"),
    ("{path}:other", r"Model file {path} defines no other"),
    ("{path}:not_a_model", r"not_a_model in {path} must be an nn.Sequential, not int"),
])
def test_model_file_errors(tmp_path, reference, message):
    path, missing = _model_file(tmp_path), tmp_path / "nope.py"
    escaped = dict(path=re.escape(str(path)), missing=re.escape(str(missing)))
    with pytest.raises(ValueError, match=f"^{message.format(**escaped)}$"):
        load_model_file(reference.format(path=path, missing=missing))


def test_state_dict_loading_never_unpickles(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"0.weight": torch.zeros(2), "payload": _Payload()}, path)
    with pytest.raises(ValueError, match=rf"^Cannot read a state_dict from {path}: "):
        load_state_dict(path)


class _Payload:
    """An arbitrary object: loading it would run its class's code."""


def test_export_round_trip_on_digits(tmp_path):
    """A 64-32-10 model with biases and dropout, 3 epochs reaching 90 % zeros on the fast
    backend, exported: the user's nn.Sequential loads it strictly, pruned weights are zeros,
    and PyTorch's float32 forward pass agrees with the host evaluation on the fabric's
    arithmetic: every logit within the propagated fp16 bound, the same class on every sample
    whose top two logits are further apart than their bounds (measured: 357 of the 360 test
    samples are, largest logit difference 0.71 of its bound, the same class on all 360, test
    accuracy 76.9 % both ways after these 3 short epochs)."""
    opts = TrainOptions(model=f"{_model_file(tmp_path)}:model", epochs=3, prune_epochs=2)
    trainer, data = build_trainer(opts)
    run_training(trainer, data, opts.epochs, progress=False, log=_quiet)
    pt, stats = export_model(trainer, tmp_path / "model.pt")
    assert stats == stats_path(pt) == tmp_path / "model.stats.npz"

    user = load_model_file(f"{_model_file(tmp_path)}:model", seed=9)
    user.load_state_dict(load_state_dict(pt), strict=True)
    user.eval()
    for k, lin in enumerate([user[0], user[3]]):
        mask = trainer.store.masks[k][:, :lin.in_features]
        assert torch.all(lin.weight[torch.from_numpy(~mask)] == 0)
    assert trainer.store.zero_fraction() >= 0.9

    x_test, y_test = data[2], data[3]
    assert np.array_equal(load_standardizer(stats).mean, trainer.extra_arrays["input_mean"])
    with torch.no_grad():
        z_torch = user(torch.from_numpy(x_test)).numpy().astype(np.float64).T
    z_fabric = trainer.logits(x_test, trainer.engine.rows).T
    d = []
    for start in range(0, len(x_test), trainer.batch):       # the batches logits() ran
        acts = trainer.forward(np.ascontiguousarray(x_test[start:start + trainer.batch].T))
        d.append(logits_bound(trainer.store.weights, acts, opts.array.cols,
                              trainer.store.spec.bias, float32=True)[1])
    d = np.concatenate(d, axis=1)
    assert np.all(np.abs(z_fabric - z_torch) <= d), np.max(np.abs(z_fabric - z_torch) / d)
    sure = decisive(z_torch, d)
    assert sure.mean() > 0.95
    assert np.array_equal(np.argmax(z_torch, 0)[sure], np.argmax(z_fabric, 0)[sure])
    correct = np.argmax(z_torch, 0) == y_test
    assert np.array_equal(correct[sure], (np.argmax(z_fabric, 0) == y_test)[sure])
    assert correct.mean() >= 0.7                              # it learned


def test_wafer_train_model_data_export(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((600, 64)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + 2 * (x[:, 1] > 0)
    np.savez(tmp_path / "train.npz", X=x, y=y)
    path = _model_file(tmp_path, MODEL_FILE.replace("Linear(32, 10)", "Linear(32, 4)"))
    code = main(["train", "--no-progress", "--json", "--model", f"{path}:model", "--data",
                 str(tmp_path / "train.npz"), "--epochs", "5", "--sparsity", "0.5",
                 "--export", str(tmp_path / "m.pt")])
    out = capsys.readouterr()
    assert code == 0, out.err
    result = json.loads(out.out)
    assert result["accuracy"][-1] >= 0.8
    assert result["export"]["state_dict"] == str(tmp_path / "m.pt")
    user = load_model_file(f"{path}:model")
    user.load_state_dict(load_state_dict(tmp_path / "m.pt"), strict=True)
    assert load_standardizer(tmp_path / "m.stats.npz").features == 64


@pytest.mark.parametrize("args,message", [
    (["--model", "m.py:model", "--hidden", "8"], "--model brings its own layers: drop --hidden"),
    (["--model", "m.py:model", "--bias"], "--model brings its own layers: drop --bias"),
    (["--data", "a.npz", "--dataset", "iris"], "Give --data or --dataset, not both"),
    (["--test", "a.npz"], r"A test file needs its training file \(--data\)"),
    (["--export", "no/such/folder/m.pt"], "--export no/such/folder/m.pt: folder .* does not "
                                          "exist"),
    (["--model", "m.py"], "--model must be FILE.py:NAME, not 'm.py'"),
])
def test_wafer_train_model_errors(capsys, args, message):
    code = main(["train", "--no-progress", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert re.fullmatch(f"wafer train: error: {message}\n", err), err
