"""The SwarmX cost model's arithmetic on cases small enough to work out by hand, the fixed
reduction tree, and the model's errors."""

import numpy as np
import pytest

from wafer_engine.rtl.params import ArrayParams
from wafer_engine.rtl.router import HOP_CYCLES
from wafer_engine.fabric.model.fp_model import fp32_add
from wafer_engine.sw.swarm.cost import (LayerTraffic, SwarmParams, dense_traffic, layer_cycles,
                                        layer_traffic, step_bytes, step_time, tree_hops,
                                        weak_scaling)
from wafer_engine.sw.swarm.tree import cover, shares, tree_sum

#: Round numbers: 1 GHz, 100 bytes/s links, fan-in 2, 10 bytes/s host, 2 bytes per update.
SWARM = SwarmParams(clock_hz=1e9, link_bytes_per_s=100, fanin=2, host_bytes_per_s=10,
                    update_bytes_per_param=2)
#: W 4 x 4 with 5 weights streamed and 6 mask positions, W^T streamed too.
LAYER = LayerTraffic(4, 4, weights=5, positions=6)


def test_layer_bytes_by_hand():
    assert LAYER.broadcast_bytes == 4 * 5 * 2 + 2      # two streams + a 16-bit bitmap
    assert LayerTraffic(4, 4, 5, 6, backward_data=False).broadcast_bytes == 4 * 5 + 2
    assert LAYER.gradient_bytes == 24
    mask = np.array([[1, 1, 0], [0, 1, 0]], bool)
    weights = np.array([[1.0, 1e-9, 5.0], [2.0, -3.0, 0.0]], np.float32)  # 1e-9: fp16 zero
    assert layer_traffic(weights, mask) == LayerTraffic(2, 3, 2, 3, True)


@pytest.mark.parametrize("fabrics,fanin,hops", [(1, 2, 1), (2, 2, 2), (3, 2, 3), (4, 2, 3),
                                                (16, 4, 3), (17, 4, 4), (192, 4, 5),
                                                (192, 2, 9)])
def test_tree_hops(fabrics, fanin, hops):
    assert tree_hops(fabrics, fanin) == hops


def test_step_time_by_hand():
    # 4 fabrics, fan-in 2: 3 hops. Broadcast 42 B x 3 / 100; reduce 24 B x 3 / 100;
    # update 6 params x 2 B / 10; fabric: the slowest, 3000 cycles at 1 GHz.
    t = step_time([1000, 3000, 2000, 500], [LAYER], 4, SWARM)
    assert (t.fabric, t.broadcast, t.reduce, t.update) == pytest.approx(
        (3e-6, 1.26, 0.72, 1.2))
    assert t.total == pytest.approx(3e-6 + 1.26 + 0.72 + 1.2)
    assert t.largest() == "broadcast" and t.largest(exclude=("broadcast",)) == "update"


def test_weak_scaling_by_hand():
    # T(1) = 0.42 + 0.24 + 1.2 (+ 0 fabric) = 1.86; T(2) = 0.84 + 0.48 + 1.2 = 2.52.
    (k1, _, e1), (k2, t2, e2) = weak_scaling(0, [LAYER], [1, 2], SWARM)
    assert (k1, e1) == (1, 1.0)
    assert t2.total == pytest.approx(2.52) and e2 == pytest.approx(1.86 / 2.52)


def test_step_bytes_count_partial_sums():
    # 5 micro-batches on 2 fabrics: shares [0, 3) and [3, 5); the tree's nodes under them are
    # [0, 2), [2, 3) and [3, 4), [4, 5): four gradients come back.
    assert shares(5, 2) == [(0, 3), (3, 5)]
    assert cover(0, 3, 5) == [(0, 2), (2, 3)] and cover(3, 5, 5) == [(3, 4), (4, 5)]
    assert step_bytes([LAYER], 2, 5) == {"broadcast": 84, "gradients": 4 * 24}
    assert step_bytes([LAYER], 2, 4) == {"broadcast": 84, "gradients": 2 * 24}


def test_tree_sum_is_the_same_from_any_cover():
    rng = np.random.default_rng(0)
    leaves = {(i, i + 1): rng.standard_normal(64).astype(np.float32).view(np.uint32)
              for i in range(7)}
    whole = tree_sum(leaves, 0, 7)
    # The tree by hand: ((0 + 1) + (2 + 3)) + ((4 + 5) + 6).
    v = [leaves[(i, i + 1)] for i in range(7)]
    expect = fp32_add(fp32_add(fp32_add(v[0], v[1]), fp32_add(v[2], v[3])),
                      fp32_add(fp32_add(v[4], v[5]), v[6]))
    np.testing.assert_array_equal(whole, expect)
    for fabrics in (2, 3, 7):
        known = {}
        for a, b in shares(7, fabrics):
            known.update({node: tree_sum(leaves, *node) for node in cover(a, b, 7)})
        np.testing.assert_array_equal(tree_sum(known, 0, 7), whole)
    with pytest.raises(KeyError, match="Micro-batch 3 has no gradient"):
        tree_sum({k: x for k, x in leaves.items() if k != (3, 4)}, 0, 7)


def test_layer_cycles_are_the_closed_forms():
    # 1 x 1 array, W 2 x 3 dense, batch 1: forward 6 weights + 16 (the PE's fill) + a hop
    # for the row + (2 results + one chain step, 17 cycles in the PE and 2 hops, per column);
    # backward data likewise with 3 results; gradient: one round of six one-element GRAD_ACCs,
    # one per cycle, + 16 + 2 until quiet, then the drain of 6 slots and one chain step (17
    # cycles in the PE and 2 hops) for the row.
    h = HOP_CYCLES
    cycles = layer_cycles(2, 3, 1, ArrayParams.build(rows=1, cols=1))
    assert cycles == {"forward": 6 + 16 + h + 2 + 17 + 2 * h,
                      "backward_data": 6 + 16 + h + 3 + 17 + 2 * h,
                      "weight_grad": 6 + 16 + 2 + 6 + 17 + 2 * h}


def test_a_gpt3_sized_layer_in_well_under_a_minute():
    import time
    start = time.perf_counter()
    cycles = layer_cycles(12288, 49152, 750, ArrayParams.build(rows=750, cols=994))
    assert time.perf_counter() - start < 5
    assert cycles["weight_grad"] > cycles["forward"] > 12288 * 50


@pytest.mark.parametrize("call,message", [
    (lambda: SwarmParams(fanin=1), r"^Tree fan-in must be an integer of at least 2, not 1$"),
    (lambda: SwarmParams(clock_hz=0), r"^Clock \(Hz\) must be a positive number, not 0$"),
    (lambda: SwarmParams(link_bytes_per_s=-1.0),
     r"^Link bandwidth \(bytes/s\) must be a positive number, not -1.0$"),
    (lambda: dense_traffic(2, 2, 0), r"^Density must be in \(0, 1\], not 0$"),
    (lambda: step_time([1, 2], [LAYER], 3, SWARM),
     r"^Need 3 non-negative fabric cycle counts, not \[1, 2\]$"),
    (lambda: tree_hops(0, 2), r"^Fabric count must be a positive integer, not 0$"),
    (lambda: layer_cycles(0, 2, 1, ArrayParams()),
     r"^Output count must be a positive integer, not 0$"),
])
def test_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
