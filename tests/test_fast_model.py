"""The fast functional model against the cycle-exact array model: identical bits for the GEMM
and the weight gradient, cycle estimates within 5 %."""

import numpy as np
import pytest

from wafer_engine.fabric.workloads.error_bound import chain_additions, reference_bound
from wafer_engine.fabric.fast.gemm import FabricStats, column_issue_cycles, gemm_fast, wgrad_fast
from wafer_engine.fabric.workloads.gemm import collect_matrix, gemm_program
from wafer_engine.fabric.workloads.wgrad import collect_gradients, wgrad_program
from wafer_engine.sw.backends.run import run_workload
from wafer_engine.rtl.params import ArrayParams

PE = dict(colors=3, mem_words=4096, acc_words=1024, max_len=512)

CASES = [  # rows, cols, M, N, B, density, relu
    (1, 1, 6, 5, 3, 1.0, False),
    (2, 2, 40, 7, 5, 0.25, True),
    (3, 4, 9, 10, 7, 0.5, False),
    (4, 4, 16, 32, 16, 0.1, True),
    (4, 4, 10, 64, 32, 0.1, False),
    (2, 3, 12, 9, 6, 0.0, True),
]


def _operands(rows, m, n, batch, density):
    rng = np.random.default_rng(rows * 1000 + m * 10 + n)
    w = rng.standard_normal((m, n)) * (rng.random((m, n)) < density)
    # Non-negative X (as after a ReLU) with exact zeros and a -0, the sign cases of the adder.
    x = np.maximum(rng.standard_normal((n, batch)), 0)
    x[0, 0] = -0.0
    return rng, w, x


def _cycle_error(estimate, exact):
    return abs(estimate - exact) / exact


@pytest.mark.parametrize("rows,cols,m,n,batch,density,relu", CASES)
def test_gemm_fast_matches_exact_model(rows, cols, m, n, batch, density, relu):
    _, w, x = _operands(rows, m, n, batch, density)
    work = gemm_program(w, x, ArrayParams.build(rows=rows, cols=cols, **PE), relu=relu)
    exact = run_workload(work, "golden")
    y = collect_matrix([exact.outputs[o] for o in work.outputs], m, batch)
    y_fast, stats = gemm_fast(w, x, ArrayParams.build(rows=rows, cols=cols, **PE), relu=relu)
    assert np.array_equal(y.view(np.uint32), y_fast.view(np.uint32))
    assert stats.fmac_ops == exact.total("fmac_issues")
    assert stats.wavelets == exact.wavelets_in
    assert stats.wavelets_out == sum(len(s) for s in exact.outputs.values())
    assert _cycle_error(stats.cycles, exact.cycles) <= 0.05, (stats.cycles, exact.cycles)


@pytest.mark.parametrize("rows,cols,m,n,batch,density,relu", CASES)
def test_wgrad_fast_matches_exact_model(rows, cols, m, n, batch, density, relu):
    rng, _, x = _operands(rows, m, n, batch, density)
    mask = rng.random((m, n)) < max(density, 0.3)
    dy = rng.standard_normal((m, batch)) * (rng.random((m, 1)) < 0.7)
    work = wgrad_program(mask, dy, x, ArrayParams.build(rows=rows, cols=cols, **PE))
    exact = run_workload(work, "golden")
    dw = collect_gradients([exact.outputs[o] for o in work.outputs], mask, dy,
                           work.program.params)
    dw_fast, stats = wgrad_fast(mask, dy, x, ArrayParams.build(rows=rows, cols=cols, **PE))
    assert np.array_equal(dw.view(np.uint32), dw_fast.view(np.uint32))
    assert stats.fmac_ops == exact.total("fmac_issues")
    assert stats.wavelets == exact.wavelets_in
    assert _cycle_error(stats.cycles, exact.cycles) <= 0.05, (stats.cycles, exact.cycles)


def test_fast_model_values_follow_fp16_inputs():
    """GEMM and weight gradient within the arithmetic's bound of float64
    (fabric/workloads/error_bound.py)."""
    rng = np.random.default_rng(5)
    w = rng.standard_normal((20, 30)) * (rng.random((20, 30)) < 0.3)
    x = rng.standard_normal((30, 8))
    y, _ = gemm_fast(w, x, ArrayParams.build(rows=2, cols=3, **PE))
    ref, bound = reference_bound(w, x, chain_additions(30, 3))
    assert np.all(np.abs(y - ref) <= bound), np.max(np.abs(y - ref) / bound)
    mask = rng.random((20, 30)) < 0.5
    dy = rng.standard_normal((20, 8))
    dw, _ = wgrad_fast(mask, dy, x, ArrayParams.build(rows=2, cols=3, **PE))
    ref, bound = reference_bound(dy, x.T, chain_additions(8, 2), fp16_result=False)
    assert np.all(np.abs(dw - ref * mask) <= bound), np.max(np.abs(dw - ref * mask) / bound)


def test_stats_add_up():
    a, b = FabricStats(1, 2, 3, 4, 5), FabricStats(10, 20, 30, 40, 50)
    assert (a + b).astuple() == (11, 22, 33, 44, 55)


def test_fast_model_rejects_what_the_mapping_rejects():
    with pytest.raises(ValueError, match="cannot multiply"):
        gemm_fast(np.ones((3, 4)), np.ones((5, 2)), ArrayParams.build(rows=1, cols=1, **PE))
    with pytest.raises(ValueError, match="accumulators per PE"):
        gemm_fast(np.ones((600, 4)), np.ones((4, 4)), ArrayParams.build(rows=1, cols=1, **PE))
    with pytest.raises(ValueError, match="The matrix X holds NaN"):
        gemm_fast(np.ones((3, 4)), np.full((4, 2), np.nan),
                  ArrayParams.build(rows=1, cols=1, **PE))
    with pytest.raises(ValueError, match="Gradient shapes do not match"):
        wgrad_fast(np.ones((2, 3), bool), np.ones((2, 4)), np.ones((4, 4)),
                   ArrayParams.build(rows=1, cols=1, **PE))
    with pytest.raises(ValueError, match=r"The X and dY blocks per PE need \(3 \+ 100\) x 4"):
        wgrad_fast(np.ones((100, 3), bool), np.ones((100, 4)), np.ones((3, 4)),
                   ArrayParams.build(rows=1, cols=1, **dict(PE, mem_words=256)))


@pytest.mark.parametrize("seed", range(12))
def test_gemm_cycle_estimate_on_random_small_shapes(seed):
    """Short batch slices (accumulator spacing stalls), ReLU'd rows that send nothing at the
    end, uneven splits: the estimate stays within 5 % of the cycle-exact model."""
    rng = np.random.default_rng(seed)
    rows, cols = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    m, n, batch = int(rng.integers(1, 12)), int(rng.integers(cols, 20)), int(rng.integers(rows, 12))
    density = rng.choice([1.0, 0.5, 0.2, 0.05])
    w = rng.standard_normal((m, n)) * (rng.random((m, n)) < density)
    x = rng.standard_normal((n, batch))
    work = gemm_program(w, x, ArrayParams.build(rows=rows, cols=cols, **PE), relu=True)
    exact = run_workload(work, "golden").cycles
    _, stats = gemm_fast(w, x, ArrayParams.build(rows=rows, cols=cols, **PE), relu=True)
    assert _cycle_error(stats.cycles, max(exact, 1)) <= 0.05, (stats.cycles, exact)


def test_column_issue_cycles():
    # L = 2: three weights of one row must start 4 cycles apart: 0, 4, 8, done at 10.
    assert column_issue_cycles([0, 0, 0], 2) == 10
    # Alternating rows: 0, 2 (row 1), 4 (row 0 again, spacing), 6: done at 8.
    assert column_issue_cycles([0, 1, 0, 1], 2) == 8
    # L = 1: 0, 4, 8 for row 0, row 1 in between: 0, 1, 4, 5: done at 6.
    assert column_issue_cycles([0, 1, 0, 1], 1) == 6
    assert column_issue_cycles([0, 0], 5) == 10 and column_issue_cycles([], 3) == 0


@pytest.mark.parametrize("length", [1, 2, 5])
def test_grad_issue_cycles_is_the_pe_model(length):
    """grad_issue_cycles is exact: a GRAD stream of any count on the cycle-exact PE model
    takes it plus a constant 17 cycles (decode, pipeline, output)."""
    from wafer_engine.fabric.fast.gemm import grad_issue_cycles
    from wafer_engine.fabric.model.pe_model import PeModel, simulate_pe
    from wafer_engine.fabric.model.wavelet import Wavelet
    from wafer_engine.fabric.program.pe_task import PeProgram, Task
    program = PeProgram({0: Task("GRAD", len=length, mem_b=64, rows=4, cols=4, jbits=2)})
    for count in range(1, 10):
        model = PeModel(program.params)
        for write in program.config_writes():
            model.configure(*write)
        cycles, _ = simulate_pe(model, [Wavelet.half(0, 0, k % 16) for k in range(count)])
        assert cycles == grad_issue_cycles(count, length) + 17, count
