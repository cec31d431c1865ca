"""The weight-gradient mapping on the cycle-exact model: values against numpy, the layout, the
skipped all-zero rows, and every error message (the RTL runs are in tests/test_train_backends.py
through the training engine)."""

import numpy as np
import pytest

from wafer_engine.fabric.workloads.error_bound import chain_additions, reference_bound
from wafer_engine.fabric.model.wavelet import Wavelet
from wafer_engine.fabric.workloads.common import to_fp16_bits
from wafer_engine.fabric.workloads.wgrad import (G_COLOR, OUT_COLOR, collect_gradients, grad_positions,
                                    reduce_partials, wgrad_program)
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
    dw = collect_gradients([result.outputs[o] for o in work.outputs], mask, dy, cols)
    # fp32 sums of each row's batch slice, then R - 1 more additions; the result stays fp32.
    ref, bound = reference_bound(dy, x.T, chain_additions(batch, rows), fp16_result=False)
    ref = ref * mask
    assert np.all(np.abs(dw - ref) <= bound), np.max(np.abs(dw - ref) / bound)
    assert np.all(dw[~mask] == 0) and np.all(dw[1] == 0)
    sent = np.count_nonzero(mask & (np.arange(m) != 1)[:, None])
    assert result.wavelets_in == sent
    assert all(len(result.outputs[o]) == sent for o in work.outputs)
    assert result.total("errors") == result.total("no_task") == 0


def test_wgrad_layout_and_streams():
    mask = np.array([[True, False, True], [False, True, True]])         # M = 2, N = 3
    dy = np.array([[1.0, 2.0], [3.0, 4.0]])                             # B = 2
    x = np.array([[5.0, 6.0], [7.0, 8.0], [9.0, 10.0]])
    work = wgrad_program(mask, dy, x, ArrayParams.build(rows=2, cols=2, **PE))
    # Column 0 owns features {0, 1} (jbits 1), column 1 owns {2} (jbits 0); one phase each.
    assert work.phases == [
        {(Port.N,
          0): [Wavelet.half(G_COLOR, 0, 0 << 1 | 0), Wavelet.half(G_COLOR, 0, 1 << 1 | 1)]},
        {(Port.N, 1): [Wavelet.half(G_COLOR, 0, 0), Wavelet.half(G_COLOR, 0, 1)]}]
    # PE (1, 0): X[{0, 1}, {1}] then dY[:, {1}].
    assert work.program.pes[(1,
                             0)].mem == dict(enumerate(to_fp16_bits([6.0, 8.0, 2.0, 4.0]).tolist()))
    task = work.program.pes[(1, 0)].tasks[G_COLOR]
    assert (task.mem_a, task.mem_b, task.len, task.out_color) == (0, 2, 1, OUT_COLOR)


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
    ((np.ones((300, 3), bool), np.ones((300, 4)), np.ones((3, 4))),
     "needs 300 x 4 = 1200 accumulators per PE"),
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
    with pytest.raises(ValueError, match="Row 0 sent 1 partial sums for 4 gradient positions"):
        collect_gradients([[(0, Wavelet(OUT_COLOR, 0))]], mask, dy, 1)
