"""Data-parallel training on Dask: the same bits for 1 and 2 fabrics and across reruns, the
bytes the cost model counts, a worker dying mid-step, and a scheduler that does not answer."""

import os

import numpy as np
import pytest

from wafer_engine.sw.swarm.cost import mlp_traffic, step_bytes
from wafer_engine.sw.swarm.data_parallel import DataParallelTrainer
from wafer_engine.sw.training.engines import FabricEngine
from wafer_engine.sw.training.job import TRAIN_ARRAY
from wafer_engine.sw.training.mlp import from_sizes, he_init
from wafer_engine.sw.training.optim import Sgd
from wafer_engine.sw.training.weight_store import WeightStore

SIZES, MICRO_BATCHES, MICRO_BATCH, STEPS = [16, 12, 4], 4, 4, 2
#: Seconds a step may take (worker start-up included), so a hung cluster fails the test.
TIMEOUT = 60


def _store(spec=None):
    spec = from_sizes(SIZES) if spec is None else spec
    return WeightStore(spec, he_init(spec, np.random.default_rng(0)), sparsity=0.5,
                       state_names=Sgd.state_names)


def _data():
    rng = np.random.default_rng(1)
    samples = STEPS * MICRO_BATCHES * MICRO_BATCH
    return rng.standard_normal((samples, SIZES[0])).astype(np.float32), \
        rng.integers(0, SIZES[-1], samples)


def _train(fabrics, spec=None, **options):
    """Weights (as uint32 bits) and the trainer after STEPS steps on the fast engine."""
    store = _store(spec)
    x, labels = _data()
    batch = MICRO_BATCHES * MICRO_BATCH
    with DataParallelTrainer(store, Sgd(), fabrics=fabrics, micro_batches=MICRO_BATCHES,
                             micro_batch=MICRO_BATCH, params=TRAIN_ARRAY, timeout=TIMEOUT,
                             **options) as trainer:
        traffic = []
        for step in range(STEPS):
            traffic.append(mlp_traffic(store.weights, store.masks))
            cols = slice(step * batch, (step + 1) * batch)
            trainer.step(np.ascontiguousarray(x[cols].T), labels[cols])
        bits = [np.asarray(w, np.float32).view(np.uint32).copy() for w in store.weights]
    return bits, trainer, traffic


@pytest.fixture(scope="module")
def address():
    from distributed import LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def two_fabrics(address):
    return _train(2, address=address)


def test_one_and_two_fabrics_and_reruns_give_the_same_bits(address, two_fabrics):
    one, _, _ = _train(1, address=address)
    two, trainer, _ = two_fabrics
    again, _, _ = _train(2, address=address)
    initial = [np.asarray(w, np.float32).view(np.uint32) for w in _store().weights]
    assert any(not np.array_equal(a, b) for a, b in zip(one, initial))
    for a, b, c in zip(one, two, again):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    assert len(trainer.last_cycles) == 2 and min(trainer.last_cycles) > 0


def test_biases_and_dropout_give_the_same_bits_on_any_fabric_count(address):
    """A model with biases and dropout: the bias columns travel with the streams, and every
    micro-batch draws its own dropout masks whichever fabric runs it."""
    from dataclasses import replace
    spec = replace(from_sizes(SIZES, bias=True), dropout=(0.0, 0.25))
    one, _, _ = _train(1, spec=spec, address=address)
    two, _, _ = _train(2, spec=spec, address=address)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


def test_bytes_moved_are_the_cost_models(two_fabrics):
    _, trainer, traffic = two_fabrics
    expected = {"broadcast": 0, "gradients": 0}
    for layers in traffic:
        for key, value in step_bytes(layers, 2, MICRO_BATCHES).items():
            expected[key] += value
    assert trainer.bytes_moved == expected
    # Two fabrics of two micro-batches each: one partial sum each, two gradients per step.
    positions = sum(layer.positions for layer in traffic[0])
    assert step_bytes(traffic[0], 2, MICRO_BATCHES)["gradients"] == 2 * 4 * positions


def _dies_once(marker):
    """An engine factory that kills its worker process the first time any worker calls it."""
    def make(backend, params):
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return FabricEngine(backend, params)
        os._exit(1)
    return make


def test_a_worker_dying_mid_step_changes_nothing(tmp_path, two_fabrics):
    """On a LocalCluster the trainer starts itself: one worker dies in the first step, Dask
    runs its share again, and the weights are the clean run's bits."""
    marker = tmp_path / "died"
    bits, trainer, _ = _train(2, engine_factory=_dies_once(str(marker)))
    assert marker.exists()
    assert trainer.cluster.status.name == "closed"
    for a, b in zip(bits, two_fabrics[0]):
        np.testing.assert_array_equal(a, b)


def test_a_silent_address_is_a_value_error():
    address = "tcp://127.0.0.1:9"
    with pytest.raises(ValueError, match=r"^No Dask scheduler answers at 'tcp://127.0.0.1:9'$"):
        DataParallelTrainer(_store(), Sgd(), fabrics=2, address=address, timeout=1)


@pytest.mark.parametrize("fabrics,micro_batches,message", [
    (0, 4, r"^Fabric count must be a positive integer, not 0$"),
    (3, 2, r"^Micro-batch count must be an integer of at least the 3 fabrics, not 2$"),
])
def test_bad_counts(fabrics, micro_batches, message):
    with pytest.raises(ValueError, match=message):
        DataParallelTrainer(_store(), Sgd(), fabrics=fabrics, micro_batches=micro_batches)


def _wafer_train(argv, capsys):
    from wafer_engine.sw.cli.main import main
    status = main(["train", "--dataset", "iris", "--hidden", "8", "--epochs", "1",
                   "--batch", "16", "--sparsity", "0.5", "--prune-epochs", "0", "--rows", "1",
                   "--cols", "1", "--no-progress", "--json", *argv])
    captured = capsys.readouterr()
    return status, captured


def test_wafer_train_fabrics_gives_the_same_weights(tmp_path, address, capsys):
    """`wafer train --fabrics 1` and `--fabrics 2` (on the test's 2-worker cluster) end with the
    same checkpointed weights, bit for bit, and report what moved."""
    import json
    outs = {}
    for k in (1, 2):
        folder = tmp_path / f"k{k}"
        status, captured = _wafer_train(["--fabrics", str(k), "--scheduler", address,
                                         "--checkpoint", str(folder)], capsys)
        assert status == 0, captured.err
        result = json.loads(captured.out)
        assert result["fabrics"] == k and len(result["fabric_cycles_last_step"]) == k
        assert result["bytes_moved"]["broadcast"] > 0
        latest = json.loads((folder / "latest.json").read_text())
        with np.load(folder / latest["file"]) as ckpt:
            outs[k] = {name: ckpt[name].copy() for name in ckpt.files if name.startswith("w")}
    assert outs[1].keys() == outs[2].keys() and outs[1]
    for name in outs[1]:
        np.testing.assert_array_equal(outs[1][name], outs[2][name])


@pytest.mark.parametrize("argv,message", [
    (["--scheduler", "tcp://127.0.0.1:9"], "--scheduler is for data-parallel training: give "
                                          "--fabrics"),
    (["--fabrics", "2", "--micro-batches", "3"], "--batch 16 is not a whole number of "
                                                 "--micro-batches 3"),
    (["--fabrics", "3", "--micro-batches", "2"], "Micro-batch count must be an integer of at "
                                                 "least the 3 fabrics, not 2"),
    (["--fabrics", "0"], "Fabric count must be a positive integer, not 0"),
])
def test_wafer_train_fabrics_errors(argv, message, capsys):
    status, captured = _wafer_train(argv, capsys)
    assert status == 2
    assert captured.err == f"wafer train: error: {message}\n"


def _weights(folder):
    import json
    latest = json.loads((folder / "latest.json").read_text())
    with np.load(folder / latest["file"]) as ckpt:
        return {name: ckpt[name].copy() for name in ckpt.files if name.startswith("w")}


def test_a_checkpoint_resumes_on_another_fabric_count(tmp_path, address, capsys):
    """Two epochs on 2 fabrics, against one epoch on 2 fabrics resumed from its checkpoint
    for the second on 1 (which runs only the second epoch's steps): the same weights, bit for
    bit."""
    import json
    whole, split = tmp_path / "whole", tmp_path / "split"
    steps = []
    for argv in (["--fabrics", "2", "--epochs", "2", "--checkpoint", str(whole)],
                 ["--fabrics", "2", "--epochs", "1", "--checkpoint", str(split)],
                 ["--fabrics", "1", "--epochs", "2", "--checkpoint", str(split)]):
        status, captured = _wafer_train([*argv[:-2], "--scheduler", address, *argv[-2:]],
                                        capsys)
        assert status == 0, captured.err
        result = json.loads(captured.out)
        steps.append((result["steps"], result["resumed_after_epoch"]))
    # The last run resumed after epoch 1 instead of starting again.
    assert steps[0] == (2 * steps[1][0], None) and steps[1][1] is None
    assert steps[2] == (steps[0][0], 1)
    a, b = _weights(whole), _weights(split)
    assert a.keys() == b.keys() and a
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
