"""The weight-gradient mapping on the cycle-exact model: values against numpy, the layout, the
skipped all-zero rows, and every error message (the RTL runs are in tests/test_train_backends.py
through the training engine)."""

import numpy as np
import pytest

from wafer_engine.fabric.workloads.error_bound import chain_additions, reference_bound
from wafer_engine.fabric.model.wavelet import Wavelet
from wafer_engine.fabric.workloads.common import split, to_fp16_bits
from wafer_engine.fabric.workloads.wgrad import (CHAIN_COLORS, G_COLOR, collect_gradients,
                                                 grad_positions, grad_rounds, reduce_partials,
                                                 wgrad_program)
from wafer_engine.rtl.pe import Command
from wafer_engine.rtl.ports import Port
from wafer_engine.sw.backends.run import run_workload
from wafer_engine.rtl.params import ArrayParams

PE = dict(colors=3, mem_words=1024, acc_words=1024, max_len=512)


@pytest.mark.parametrize("rows,cols,m,n,batch", [(1, 1, 3, 4, 5), (3, 2, 7, 9, 10),
                                                 (4, 4, 12, 16, 8)])
def test_wgrad_matches_numpy(rows, cols, m, n, batch):
    rng = np.random.default_rng(m * n)
    mask = rng.random((m, n)) < 0.4
    dy = rng.standard_normal((m, batch))
    dy[1] = 0                                          # a dead unit: its row is not sent
    x = rng.standard_normal((n, batch))
    work = wgrad_program(mask, dy, x, ArrayParams.build(rows=rows, cols=cols, **PE))
    result = run_workload(work, "golden")
    dw = collect_gradients([result.outputs[o] for o in work.outputs], mask, dy,
                           work.program.params)
    # fp32 sums of each row's batch slice, then R - 1 more additions; the result stays fp32.
    ref, bound = reference_bound(dy, x.T, chain_additions(batch, rows), fp16_result=False)
    ref = ref * mask
    assert np.all(np.abs(dw - ref) <= bound), np.max(np.abs(dw - ref) / bound)
    assert np.all(dw[~mask] == 0) and np.all(dw[1] == 0)
    live = mask & (np.arange(m) != 1)[:, None]
    per_column = [int(live[:, f].sum()) for f in split(n, cols)]
    rounds, lengths = grad_rounds(per_column, PE["max_len"])
    # One index wavelet per position, one drain per column and round; each drain sends the
    # column's slots once.
    assert result.wavelets_in == live.sum() + cols * rounds
    assert [len(result.outputs[o]) for o in work.outputs] == [rounds * k for k in lengths]
    assert result.total("errors") == result.total("no_task") == 0


def test_wgrad_layout_and_streams():
    mask = np.array([[True, False, True], [False, True, True]])         # M = 2, N = 3
    dy = np.array([[1.0, 2.0], [3.0, 4.0]])                             # B = 2
    x = np.array([[5.0, 6.0], [7.0, 8.0], [9.0, 10.0]])
    params = ArrayParams.build(rows=2, cols=2, **dict(PE, max_len=1))
    work = wgrad_program(mask, dy, x, params)
    # Column 0 owns features {0, 1} (jbits 1), column 1 owns {2} (jbits 0); both columns have
    # two positions, one slot each with max_len 1: two rounds, each a GRAD_ACC phase (slot 0)
    # and a drain phase.
    drain = [Wavelet(CHAIN_COLORS[0], Command.DRAIN.value, control=1)]
    assert work.phases == [
        {(Port.N, 0): [Wavelet.half(G_COLOR, 0, 0 << 1 | 0)],
         (Port.N, 1): [Wavelet.half(G_COLOR, 0, 0)]},
        {(Port.N, 0): drain, (Port.N, 1): drain},
        {(Port.N, 0): [Wavelet.half(G_COLOR, 0, 1 << 1 | 1)],
         (Port.N, 1): [Wavelet.half(G_COLOR, 0, 1)]},
        {(Port.N, 0): drain, (Port.N, 1): drain}]
    assert work.outputs == [(Port.S, 0), (Port.S, 1)]
    # PE (1, 0): X[{0, 1}, {1}] then dY[:, {1}]; it adds its slot to row 0's on the second
    # chain color and sends the sum on the first, south.
    pe = work.program.pes[(1, 0)]
    assert pe.mem == dict(enumerate(to_fp16_bits([6.0, 8.0, 2.0, 4.0]).tolist()))
    task = pe.tasks[G_COLOR]
    assert (task.op.name, task.mem_a, task.mem_b, task.len, task.acc) == ("GRAD_ACC", 0, 2, 1, 0)
    chain = pe.tasks[CHAIN_COLORS[1]]
    assert (chain.op.name, chain.len, chain.out_color) == ("REDUCE", 1, CHAIN_COLORS[0])
    assert work.program.pes[(0, 0)].tasks[CHAIN_COLORS[0]].out_color == CHAIN_COLORS[1]


def test_rounds_spread_positions_evenly():
    # The busiest column sets the rounds; each column's are as even as the rounds allow.
    assert grad_rounds([130, 64, 0, 3], 64) == (3, [44, 22, 0, 1])
    assert grad_rounds([0, 0], 64) == (0, [0, 0])


def test_reduce_partials_is_row_ordered_fp32():
    big, small = np.float32(2 ** 24), np.float32(1.0)
    bits = np.array([[big], [small], [small]], dtype=np.float32).view(np.uint32)
    # (2^24 + 1) + 1 rounds twice to 2^24 (ties to even); 2^24 + (1 + 1) would be exact.
    assert reduce_partials(bits).view(np.float32)[0] == big


def test_grad_positions_skip_dead_rows():
    mask = np.ones((3, 2), dtype=bool)
    dy16 = to_fp16_bits(np.array([[1.0], [0.0], [-0.0]]))
    assert grad_positions(mask, dy16).tolist() == [[0, 0], [0, 1]]


@pytest.mark.parametrize("args,message", [
    ((np.ones((2, 3), bool), np.ones((2, 4)), np.ones((4, 4))), "Gradient shapes do not match"),
    ((np.ones((2, 3), bool), np.full((2, 4), np.nan), np.ones((3, 4))), "dY holds NaN"),
    ((np.ones((2, 3), bool), np.ones((2, 4)), np.full((3, 4), np.inf)), "X holds NaN"),
    ((np.ones((17, 4096), bool), np.ones((17, 1)), np.ones((4096, 1))),
     r"Weight index \(i << 12\) \| j does not fit 16 bits: 4096 input features per column "
     r"take 12 bits, leaving room for 16 output rows, not M = 17"),
    ((np.ones((100, 3), bool), np.ones((100, 4)), np.ones((3, 4))),
     r"The X and dY blocks per PE need \(3 \+ 100\) x 4 = 412 words of mem; the PE has "
     "mem_words 256"),
])
def test_wgrad_errors(args, message):
    pe = dict(PE, mem_words=256) if "412" in message else PE
    with pytest.raises(ValueError, match=message):
        wgrad_program(*args, ArrayParams.build(rows=1, cols=1, **pe))


def test_collect_rejects_a_short_stream():
    mask = np.ones((2, 2), dtype=bool)
    dy = np.ones((2, 2))
    params = ArrayParams.build(rows=1, cols=1, **PE)
    with pytest.raises(ValueError, match="Column 0 sent 1 sums; its 1 rounds of 4 slots "
                                         "drain 4"):
        collect_gradients([[(0, Wavelet(CHAIN_COLORS[0], 0))]], mask, dy, params)
