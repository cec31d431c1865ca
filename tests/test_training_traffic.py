"""Host <-> fabric traffic of a training step, by kind: the engine's counts against an
independent count from the layer shapes, the batch and what the passes returned, and against
everything the backend was handed and gave back; a kind the engine leaves out fails the check;
the fast backend counts what the golden backend moves, in one run per product or several."""

import json
from collections import Counter

import numpy as np
import pytest

from wafer_engine.rtl.config_chain import WORD_BITS
from wafer_engine.sw.backends import run as backend_run
from wafer_engine.sw.cli.main import main
from wafer_engine.sw.swarm import cost
from wafer_engine.sw.training import engines
from wafer_engine.sw.training.job import summary
from wafer_engine.sw.training.traffic import (KINDS, ROLES, TO_FABRIC, TO_HOST, WAVELET_BYTES,
                                              host_traffic, kind_of)

from small_trainer import BATCH, COLS, ONE_RUN, ROWS, SEVERAL_RUNS, small_trainer

SIZES = [8, 6, 5, 4]


def _trainer(backend, pe):
    return small_trainer(backend, pe, SIZES, seed=5, bias=True)


def _batch():
    rng = np.random.default_rng(6)
    return (rng.standard_normal((SIZES[0], BATCH)).astype(np.float32),
            rng.integers(0, SIZES[-1], size=BATCH))


def _nonzero16(a):
    return int(np.count_nonzero(np.asarray(a, np.float64).astype(np.float16).view(np.uint16)
                                & 0x7FFF))


def _column_slices(n):
    """The input features of each array column: contiguous, the first ones one longer."""
    base, extra = divmod(max(n, COLS), COLS)
    bounds = np.cumsum([0] + [base + (c < extra) for c in range(COLS)])
    return [slice(int(lo), int(hi)) for lo, hi in zip(bounds, bounds[1:])]


def _spied_step(trainer, monkeypatch):
    """Run one step's gradients, recording what the passes returned and what every backend
    run was handed and gave back (configuration words, edge wavelets in, wavelets out)."""
    seen = {"forward": [], "backward_data": [], "weight_grad": []}
    sent = Counter()
    engine = trainer.engine
    for name in seen:
        def spy(*args, _call=getattr(engine, name), _name=name):
            out = _call(*args)
            seen[_name].append((args, out))
            return out
        monkeypatch.setattr(engine, name, spy)
    run_workload = backend_run.run_workload

    def spy_run(work, backend="golden", link=None):
        result = run_workload(work, backend)
        sent["to_fabric"] += len(work.program.config_words()) + result.wavelets_in
        sent["to_host"] += sum(len(s) for s in result.outputs.values())
        return result
    monkeypatch.setattr(backend_run, "run_workload", spy_run)
    trainer.gradients(*_batch())
    monkeypatch.undo()
    return seen, sent


def _independent_count(trainer, seen, sent):
    """What one step moves, per kind, from the layer shapes, the batch and what the passes
    returned: every X and dY block is a dense fp16 memory image, results leave as non-zero
    fp16 only, a gradient column's sums as one fp32 wavelet per slot and round."""
    store = trainer.store
    layers = len(store.weights)
    count = Counter()
    for k, (w, mask) in enumerate(zip(store.weights, store.masks)):
        (m, stored), n = w.shape, store.spec.shapes[k][1]
        w = np.where(mask, w, 0)
        x_kind = "input_batch" if k == 0 else "activations_to_fabric"
        count[x_kind] += 2 * max(stored, COLS) * BATCH     # forward and weight-gradient X
        count["error_to_fabric"] += COLS * m * BATCH       # dY, in every column's PEs
        count["weights"] += _nonzero16(w)
        count["commands"] += 1                             # the forward pass's drain
        if k > 0:
            count["error_to_fabric"] += max(m, COLS) * BATCH   # dZ, the backward operand
            count["weights"] += _nonzero16(w[:, :n])
            count["commands"] += 1
    for (layer, *_), y in seen["forward"]:
        count["logits" if layer == layers - 1 else "activations_to_host"] += np.count_nonzero(y)
    count["error_to_host"] = sum(np.count_nonzero(dh) for _, dh in seen["backward_data"])
    pe = trainer.engine.params.pe
    slots = min(pe.max_len, pe.acc_words)
    for (_, mask, dy, _), _ in seen["weight_grad"]:
        live = np.any(np.asarray(dy, np.float64).astype(np.float16) != 0, axis=1)
        positions = mask & live[:, None]
        count["gradient_positions"] += int(np.count_nonzero(positions))
        # Each column of PEs computes its features' positions in rounds of at most `slots`
        # (as many rounds as the busiest column needs, spread evenly); each round with
        # positions takes one drain command and sends all the column's slots.
        per_column = [int(np.count_nonzero(positions[:, f])) for f in _column_slices(
            positions.shape[1])]
        rounds = -(-max(per_column) // slots)
        for n_c in per_column:
            if n_c:
                length = -(-n_c // rounds)
                count["commands"] += -(-n_c // length)
                count["weight_gradients"] += -(-n_c // length) * length
    operands = sum(count[k] for k in ("input_batch", "activations_to_fabric", "error_to_fabric"))
    count["program"] = sent["to_fabric"] - operands - count["weights"] - count["commands"] \
        - count["gradient_positions"]
    return count


def _check(report, expected, sent):
    """The engine's report against the independent count, kind by kind, in wavelets and bytes,
    and the directions' totals against all the backend moved."""
    for direction, kinds in (("to_fabric", TO_FABRIC), ("to_host", TO_HOST)):
        for kind in kinds:
            got = report[direction][kind]["run"]
            assert got == {"wavelets": expected[kind],
                           "bytes": WAVELET_BYTES * expected[kind]}, (kind, got, expected[kind])
        assert report["total"][direction]["run"]["wavelets"] == sent[direction], direction


def test_step_traffic_matches_an_independent_count(monkeypatch):
    trainer = _trainer("golden", ONE_RUN)
    seen, sent = _spied_step(trainer, monkeypatch)
    assert all(trainer.engine.runs[p] == n for p, n in
               (("forward", 3), ("backward_data", 2), ("weight_grad", 3)))
    expected = _independent_count(trainer, seen, sent)
    assert all(expected[k] > 0 for k in KINDS), expected    # every kind can be told missing
    report = summary(trainer, steps_run=1)["host_traffic"]
    _check(report, expected, sent)
    assert report["weight_and_gradient_bytes"]["run"] == WAVELET_BYTES * (
        expected["weights"] + expected["weight_gradients"])


@pytest.mark.parametrize("role", ROLES)
def test_a_role_left_out_of_the_count_fails_the_check(monkeypatch, role):
    """The engine with one role dropped from its count: the check above fails."""
    count = engines.workload_traffic

    def without(work, outputs):
        out = count(work, outputs)
        del out[role]
        return out
    trainer = _trainer("golden", ONE_RUN)
    monkeypatch.setattr(engines, "workload_traffic", without)
    seen, sent = _spied_step(trainer, monkeypatch)
    expected = _independent_count(trainer, seen, sent)
    with pytest.raises(AssertionError):
        _check(summary(trainer, steps_run=1)["host_traffic"], expected, sent)


@pytest.mark.parametrize("pe", [ONE_RUN, SEVERAL_RUNS], ids=["one-run", "several-runs"])
def test_fast_backend_counts_what_the_golden_backend_moves(monkeypatch, pe):
    golden, fast = _trainer("golden", pe), _trainer("fast", pe)
    _, sent = _spied_step(golden, monkeypatch)
    fast.gradients(*_batch())
    assert dict(fast.engine.traffic) == dict(golden.engine.traffic)
    assert dict(fast.engine.runs) == dict(golden.engine.runs)
    report = summary(golden, steps_run=1)["host_traffic"]
    assert [report["total"][d]["run"]["wavelets"] for d in ("to_fabric", "to_host")] == \
        [sent["to_fabric"], sent["to_host"]]
    if pe is SEVERAL_RUNS:
        assert golden.engine.runs["forward"] > len(SIZES) - 1


def test_evaluation_is_not_counted():
    trainer = _trainer("fast", ONE_RUN)
    x, labels = _batch()
    trainer.gradients(x, labels)
    before = dict(trainer.engine.traffic)
    with trainer.engine.uncounted():
        trainer.forward(x)
    assert dict(trainer.engine.traffic) == before


def test_per_step_is_the_run_over_its_steps():
    report = host_traffic({("forward", 0, "x"): 12, ("forward", 1, "results"): 5,
                           ("weight_grad", 1, "results"): 8, ("backward_data", 1, "stream"): 3},
                          layers=2, steps=4)
    assert report["to_fabric"]["input_batch"] == {"run": {"wavelets": 12, "bytes": 48},
                                                  "per_step": {"wavelets": 3.0, "bytes": 12.0}}
    assert report["to_host"]["logits"]["run"]["wavelets"] == 5
    assert report["to_host"]["activations_to_host"]["run"]["wavelets"] == 0
    assert report["weight_and_gradient_bytes"] == {"run": 44, "per_step": 11.0}


def test_a_wavelet_is_the_cost_models_four_bytes():
    """A configuration chain word counts as one wavelet: both are 32 bits."""
    assert WAVELET_BYTES == cost.WAVELET_BYTES == WORD_BITS // 8 == 4


def test_a_role_a_pass_does_not_move_is_refused():
    with pytest.raises(ValueError, match=r"^The forward pass moves no 'dy' traffic$"):
        kind_of("forward", 0, "dy", 2)


def test_wafer_train_reports_traffic(capsys):
    """Two hidden layers on drains of 64 accumulators: 8 output rows of 8 batch columns per
    PE and run, so each forward product (16, 16 and 10 rows) takes 2 runs."""
    args = ["train", "--no-progress", "--hidden", "16,16", "--epochs", "1", "--max-len", "64",
            "--limit", "256"]
    assert main(args + ["--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    traffic = result["host_traffic"]
    assert traffic["steps"] == result["steps"] == 256 // 32
    assert set(traffic["to_fabric"]) | set(traffic["to_host"]) == set(KINDS)
    assert all(traffic[d][k]["run"]["wavelets"] > 0 for d in ("to_fabric", "to_host")
               for k in traffic[d])
    assert result["passes"]["forward"]["runs"] == traffic["steps"] * (2 + 2 + 2)
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "host <-> fabric traffic:" in out and "| weight_gradients | to host |" in out
