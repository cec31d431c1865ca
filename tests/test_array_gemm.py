"""Weight-streaming GEMM: the model against numpy on larger arrays, the mapping's encodings, and
every ValueError of the mapping (the RTL runs are in tests/test_array_sim.py)."""

import numpy as np
import pytest

from wafer_engine.rtl.params import ArrayParams
from wafer_engine.rtl.router import HOP_CYCLES
from wafer_engine.fabric.model.array_model import ArrayModel
from wafer_engine.fabric.workloads.error_bound import chain_additions, reference_bound
from wafer_engine.fabric.model.wavelet import Wavelet
from wafer_engine.fabric.workloads.common import from_fp16_bits, to_fp16_bits
from wafer_engine.fabric.workloads.gemm import (DRAIN_COLOR, PARTIAL_COLORS, W_COLOR, collect_matrix,
                                   gemm_program)
from wafer_engine.rtl.ports import Port

#: PE of the model-only runs: drains up to 512 accumulators (M x batch slice).
PE = dict(colors=3, mem_words=1024, acc_words=1024, max_len=512)


def run_model(work):
    model = ArrayModel(work.program)
    cycles = [model.run(phase) for phase in work.phases]
    return model, cycles


MODEL_CASES = [  # rows, cols, M, N, B, density, relu
    (8, 8, 24, 40, 16, 1.0, False),
    (8, 8, 30, 19, 11, 0.25, True),
    (2, 3, 64, 50, 9, 0.1, False),
    (5, 1, 7, 3, 23, 0.5, False),
]


@pytest.mark.parametrize("rows,cols,m,n,batch,density,relu", MODEL_CASES)
def test_gemm_model_matches_numpy(rows, cols, m, n, batch, density, relu):
    rng = np.random.default_rng(rows * 100 + cols * 10 + m)
    w = rng.standard_normal((m, n)) * (rng.random((m, n)) < density)
    x = rng.standard_normal((n, batch))
    work = gemm_program(w, x, ArrayParams.build(rows=rows, cols=cols, **PE), relu=relu)
    model, _ = run_model(work)
    y = collect_matrix([model.outputs[o] for o in work.outputs], m, batch)
    ref, bound = reference_bound(w, x, chain_additions(n, cols), relu)
    assert np.all(np.abs(y - ref) <= bound), np.max(np.abs(y - ref) / bound)
    assert work.length == m * batch
    counters = model.counters()
    # Each streamed weight runs |B_r| FMACs in every row of its column: B per weight.
    nonzero = np.count_nonzero(to_fp16_bits(w) & 0x7FFF)
    assert sum(c["fmac_issues"] for c in counters.values()) == nonzero * batch
    assert all(c["errors"] == c["no_task"] == 0 for c in counters.values())
    # Only non-zero results leave (ReLU zeros included), each once (collect_matrix checks).
    sent = sum(len(model.outputs[o]) for o in work.outputs)
    assert sent == np.count_nonzero(ref)


def test_gemm_layout_and_streams():
    """The encodings of docs/workloads.md, checked on a 2 x 2 program by hand."""
    w = np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]])           # M = 2, N = 3
    x = np.arange(1.0, 10.0).reshape(3, 3)                       # B = 3
    work = gemm_program(w, x, ArrayParams.build(rows=2, cols=2))
    # Columns own features {0, 1} and {2}; rows own batch columns {0, 1} and {2}.
    pe01 = work.program.pes[(0, 1)]
    assert pe01.tasks[W_COLOR].jbits == 0 and pe01.tasks[W_COLOR].len == 2
    assert [pe01.mem[a] for a in range(2)] == list(to_fp16_bits(x[2, 0:2]))
    pe00 = work.program.pes[(0, 0)]
    assert pe00.tasks[W_COLOR].jbits == 1
    # MAC layout: mem[j_local * L + b].
    assert [pe00.mem[a] for a in range(4)] == list(to_fp16_bits(x[0:2, 0:2].reshape(-1)))
    assert pe00.tasks[DRAIN_COLOR].len == 2 * 2 and pe00.tasks[DRAIN_COLOR].out_color == 1
    assert work.program.pes[(1, 1)].tasks[PARTIAL_COLORS[0]].sparse_out
    stream, drain = work.phases
    h = lambda v: int(to_fp16_bits(v))
    # Zeros are not sent; index (i << jbits) | j_local, column-major.
    assert stream[(Port.N, 0)] == [Wavelet.half(W_COLOR, h(1.0), 0 << 1 | 0),
                                   Wavelet.half(W_COLOR, h(3.0), 1 << 1 | 1)]
    assert stream[(Port.N, 1)] == [Wavelet.half(W_COLOR, h(2.0), 0)]
    assert drain == {(Port.N, 0): [Wavelet(DRAIN_COLOR, 3, control=1)]}
    model, _ = run_model(work)
    # Row 1 (batch column 2, L = 1) sends y[i, 2] with index i * 1 + 0.
    row1 = [wv for _, wv in model.outputs[(Port.E, 1)]]
    assert [(wv.index, float(from_fp16_bits([wv.value])[0])) for wv in row1] == \
        [(0, 1 * 3 + 2 * 9), (1, 3 * 6)]
    y = collect_matrix([model.outputs[o] for o in work.outputs], 2, 3)
    assert np.array_equal(y, w @ x)


def test_gemm_color_count_does_not_matter():
    """Three colors suffice (weights, two partial-sum colors, the drain on the partial-sum
    color column 0 does not use); more colors change neither results nor timing, since no
    router output ever has two colors competing."""
    rng = np.random.default_rng(7)
    w, x = rng.standard_normal((6, 7)), rng.standard_normal((7, 5))
    runs = []
    for colors in (3, 24):
        work = gemm_program(w, x, ArrayParams.build(rows=2, cols=3, colors=colors))
        model, cycles = run_model(work)
        runs.append((collect_matrix([model.outputs[o] for o in work.outputs], 6, 5), cycles))
    (y3, cycles3), (y24, cycles24) = runs
    ref, bound = reference_bound(w, x, chain_additions(7, 3))
    assert np.all(np.abs(y3 - ref) <= bound)
    assert np.array_equal(y3, y24) and cycles3 == cycles24


@pytest.mark.parametrize("rows,cols", [(1, 1), (4, 1), (1, 4), (4, 4)])
def test_gemm_cycles(rows, cols):
    """Dense weights, L = 4 per row, 16 features per column (the docs/workloads.md example is
    the 4 x 4 case). Weights: every PE issues its 32 x 16 x 4 = 2048 FMACs back to back, plus
    the PE's 16-cycle fill (docs/pe.md) and one router hop (HOP_CYCLES) per row. Drain: 128
    accumulators at one per cycle behind a chain step per column (17 cycles in the PE, 2 hops)
    and a hop per row after the first."""
    rng = np.random.default_rng(1)
    w = rng.standard_normal((32, 16 * cols))
    x = rng.standard_normal((16 * cols, 4 * rows))
    work = gemm_program(w, x, ArrayParams.build(rows=rows, cols=cols, **PE))
    _, cycles = run_model(work)
    h = HOP_CYCLES
    assert cycles == [2048 + 16 + h * rows, 128 + (17 + 2 * h) * cols + h * (rows - 1)]


def test_collect_matrix_rejects_bad_indices():
    out = [[(0, Wavelet.half(1, 0x3C00, 6))]]
    with pytest.raises(ValueError, match=r"Row 0 sent index 6, beyond its 2 x 3 results"):
        collect_matrix(out, 2, 3)
    out = [[(0, Wavelet.half(1, 0x3C00, 1)), (1, Wavelet.half(1, 0x3C00, 1))]]
    with pytest.raises(ValueError, match=r"Row 0 sent index 1 twice"):
        collect_matrix(out, 2, 3)


def _ones(shape):
    return np.ones(shape)


@pytest.mark.parametrize("w_shape,x_shape,rows,cols,pe,message", [
    ((3, 5), (4, 2), 1, 1, {}, r"Matrix W of shape \(3, 5\) cannot multiply X of shape "
                               r"\(4, 2\)"),
    ((3,), (3, 2), 1, 1, {}, r"Matrix W of shape \(3,\) cannot multiply X of shape \(3, 2\)"),
    ((0, 3), (3, 2), 1, 1, {}, r"W and X must not be empty, not shapes \(0, 3\) and \(3, 2\)"),
    ((3, 4), (4, 2), 0, 1, {}, r"Row count must be an integer between 1 and 1024, not 0"),
    ((3, 4), (4, 2), 1, 2.0, {}, r"Column count must be an integer between 1 and 1024, not 2.0"),
    ((3, 4), (4, 2), 1, 1, {"colors": 2},
     r"The GEMM mapping needs 3 colors \(weights and two partial-sum colors\); the PE has 2"),
    ((3, 3), (3, 8), 2, 4, {},
     r"X has 3 input features for 4 array columns: column 3 would own none; use at most 3 "
     r"columns"),
    ((3, 8), (8, 2), 4, 2, {},
     r"X has 2 batch columns for 4 array rows: rows 2..3 would own none; use at most 2 rows"),
    ((3, 4), (4, 160), 4, 1, {},
     r"The problem needs 3 x 40 = 120 accumulators per PE \(M x batch slice\); the PE has "
     r"max_len 64"),
    ((3, 4), (4, 160), 4, 1, {"max_len": 200, "acc_words": 100},
     r"The problem needs 3 x 40 = 120 accumulators per PE \(M x batch slice\); the PE has "
     r"acc_words 100"),
    ((2000, 4), (4, 33), 1, 1, {"max_len": 65535, "acc_words": 65536},
     r"The problem needs 2000 x 33 = 66000 accumulators per PE \(M x batch slice\); a drain "
     r"covers at most 65535 \(16-bit len and index\)"),
    ((2, 100), (100, 8), 1, 2, {"mem_words": 256},
     r"The X block per PE needs 50 x 8 = 400 words of mem \(features x batch slice\); the "
     r"PE has mem_words 256"),
    ((1, 40000), (40000, 1), 1, 1, {"mem_words": 65536},
     r"40000 input features per column need jbits 16; the task table's jbits field allows at "
     r"most 15 \(32768 features per column\)"),
    ((5000, 20), (20, 1), 1, 1, {"max_len": 65535, "acc_words": 65536},
     r"Weight index \(i << 5\) \| j does not fit 16 bits: 20 input features per column "
     r"take 5 bits, leaving room for 2048 output rows, not M = 5000"),
])
def test_gemm_errors(w_shape, x_shape, rows, cols, pe, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        gemm_program(_ones(w_shape), _ones(x_shape), ArrayParams.build(rows=rows, cols=cols, **pe))


@pytest.mark.parametrize("which,bad,message", [
    ("w", np.nan, r"The matrix W holds NaN or infinite values"),
    ("x", -np.inf, r"The matrix X holds NaN or infinite values"),
    ("x", 70000.0, r"The matrix X holds values beyond the fp16 range \(\|v\| > 65504\)"),
])
def test_gemm_rejects_non_finite(which, bad, message):
    w, x = np.ones((3, 4)), np.ones((4, 2))
    (w if which == "w" else x)[1, 1] = bad
    with pytest.raises(ValueError, match=f"^{message}$"):
        gemm_program(w, x, ArrayParams.build(rows=1, cols=1))


def test_gemm_errors_come_before_the_program():
    """The mapping's own limits are reported, not the PE program's generic len check."""
    with pytest.raises(ValueError, match=r"max_len 64$"):
        gemm_program(np.ones((65, 2)), np.ones((2, 1)), ArrayParams.build(rows=1, cols=1))
    # At the limit it fits: 64 x 1 accumulators on the default PE.
    work = gemm_program(np.ones((64, 2)), np.ones((2, 1)), ArrayParams.build(rows=1, cols=1))
    model, _ = run_model(work)
    y = collect_matrix([model.outputs[o] for o in work.outputs], 64, 1)
    assert np.array_equal(y, np.full((64, 1), 2.0, dtype=np.float32))
