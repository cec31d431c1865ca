"""The fast GEMV model (fabric/fast/gemv.py) and the fast GEMM model's cycle estimate
(fabric/fast/gemm.py) against the cycle-exact array model, which runs the mappings of
fabric/workloads on every router and PE cycle by cycle (and is itself in lockstep with the
RTL in tests/test_array_sim.py)."""

import numpy as np
import pytest

from wafer_engine.fabric.workloads.error_bound import chain_additions, reference_bound
from wafer_engine.fabric.fast.gemv import gemv_cycles, gemv_fast
from wafer_engine.fabric.fast.gemm import gemm_fast
from wafer_engine.fabric.workloads import collect_vector, gemv_program
from wafer_engine.fabric.workloads.gemm import collect_matrix, gemm_program
from wafer_engine.sw.backends.run import run_workload
from wafer_engine.rtl.params import ArrayParams
from wafer_engine.rtl.router import HOP_CYCLES

#: Largest relative error of an analytical cycle estimate against the exact count.
TOLERANCE = 0.05
#: The PE of the RTL regressions (tests/test_array_sim.py).
PE = dict(colors=3, mem_words=1024, acc_words=1024, max_len=512)

#: (rows, cols, M, N, density of x): even and uneven splits, fewer output rows than array rows
#: (2 x 3 with M = 2), fewer features than columns (2 x 4 with N = 3), an all-zero x, and
#: blocks long enough (L >= 5) that the AXPYs never wait on the accumulator hazard.
GEMV_CASES = [(1, 1, 3, 4, 1.0), (1, 1, 7, 9, 0.5), (2, 2, 5, 7, 1.0), (2, 2, 9, 8, 0.3),
              (3, 4, 10, 13, 1.0), (3, 4, 10, 13, 0.4), (4, 4, 13, 18, 1.0),
              (4, 4, 13, 18, 0.0), (4, 4, 64, 64, 0.1), (2, 3, 2, 9, 1.0),
              (2, 4, 5, 3, 1.0), (4, 1, 20, 6, 1.0), (1, 4, 5, 33, 0.7)]


def _bits(y):
    return np.asarray(y, dtype=np.float32).view(np.uint32)


def _gemv_case(rows, cols, m, n, density, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, n))
    x = rng.standard_normal(n) * (rng.random(n) < density)
    return a, x


@pytest.mark.parametrize("relu", [False, True], ids=["plain", "relu"])
@pytest.mark.parametrize("rows,cols,m,n,density", GEMV_CASES,
                         ids=[f"{r}x{c}-{m}x{n}-d{d}" for r, c, m, n, d in GEMV_CASES])
def test_gemv_fast_matches_exact_model(rows, cols, m, n, density, relu):
    a, x = _gemv_case(rows, cols, m, n, density, seed=rows * 100 + cols * 10 + m)
    work = gemv_program(a, x, ArrayParams.build(rows=rows, cols=cols, **PE), relu=relu)
    exact = run_workload(work, "golden")
    y_exact = collect_vector([exact.outputs[o] for o in work.outputs], work.length)
    y, stats = gemv_fast(a, x, ArrayParams.build(rows=rows, cols=cols, **PE), relu=relu)
    assert np.array_equal(_bits(y), _bits(y_exact))
    assert stats.fmac_ops == exact.total("fmac_issues")
    assert stats.zero_skipped == exact.total("zeros_skipped")
    assert stats.wavelets == exact.wavelets_in
    assert stats.wavelets_out == sum(len(s) for s in exact.outputs.values())
    assert abs(stats.cycles - exact.cycles) <= TOLERANCE * exact.cycles, \
        (stats.cycles, exact.cycles)


def test_gemv_fast_special_values():
    """fp16 overflow to inf, -0 results (sent as nothing, read as +0), values that round to
    fp16 zero (never streamed) and subnormal products, bit for bit."""
    a = np.array([[60000.0, 60000.0, 0.0], [1.0, -1.0, 2.0 ** -14], [-0.0, 3.0, 2.0 ** -10]])
    x = np.array([2.0, 2.0, 2.0 ** -20])
    work = gemv_program(a, x, ArrayParams.build(rows=1, cols=2))
    exact = run_workload(work, "golden")
    y_exact = collect_vector([exact.outputs[o] for o in work.outputs], work.length)
    y, _ = gemv_fast(a, x, ArrayParams.build(rows=1, cols=2))
    assert np.array_equal(_bits(y), _bits(y_exact))
    assert np.isinf(y[0]) and _bits(y)[1] == 0


def test_gemv_fast_against_numpy():
    """A larger case the exact model would take long on: within the arithmetic's bound of
    float64 (fabric/workloads/error_bound.py; measured max |error| / bound: 0.89, the fp16
    rounding of the results dominating)."""
    rng = np.random.default_rng(3)
    a, x = rng.standard_normal((96, 200)), rng.standard_normal(200)
    x[rng.random(200) < 0.5] = 0
    y, stats = gemv_fast(a, x, ArrayParams.build(rows=8, cols=8))
    ref, bound = reference_bound(a, x, chain_additions(200, 8))
    assert np.all(np.abs(y - ref) <= bound), np.max(np.abs(y - ref) / bound)
    assert stats.fmac_ops == 96 * np.count_nonzero(x.astype(np.float16))


def test_gemv_cycles_dense_closed_form():
    """Dense, L >= 4: each x_j costs L cycles in row 0; the reduction L + one chain step per
    column. H: cycles per router hop; a PE's fill and drain is 16 cycles; a chain step is a
    PE's 17 cycles plus two hops."""
    h = HOP_CYCLES
    latency, step = 16, 17 + 2 * h
    assert gemv_cycles([16, 16, 16, 16], 64, 4) == ((15 * 16 + 16 + latency + 4 * h)
                                                    + (3 * h + 16 + 4 * step))
    # Short blocks wait 4 cycles between AXPYs on the same accumulators, except after the last.
    assert gemv_cycles([4], 3, 1) == (3 * 4 + 3 + latency + h) + (3 + step)
    # Nothing streamed: the drain alone (row 1 starts one hop late).
    assert gemv_cycles([0, 0], 8, 2) == h + 4 + 2 * step
    # The run ends with the last result sent: row 1's result 0 leaves one hop after row 0's.
    assert gemv_cycles([0, 0], 8, 2, last_sent=[0, 0]) == h + 1 + 2 * step
    assert gemv_cycles([0, 0], 8, 2, last_sent=[3, -1]) == 4 + 2 * step
    # Nothing sent: quiet when row 1's last REDUCE leaves the pipeline.
    assert gemv_cycles([0, 0], 8, 2, last_sent=[-1, -1]) == h + 4 - 2 + 2 * step


@pytest.mark.parametrize("kwargs,message", [
    (dict(a=np.ones((3, 4)), x=np.ones(5)),
     "Matrix of shape (3, 4) cannot multiply a vector of shape (5,)"),
    (dict(a=np.ones((3, 4)), x=np.array([1, np.nan, 0, 0])), "The vector holds NaN"),
    (dict(a=np.full((3, 4), 7e4), x=np.ones(4)), "The matrix holds values beyond the fp16"),
    (dict(a=np.ones((3, 4)), x=np.ones(4), rows=0), "Row count must be an integer between 1 "
                                                    "and 1024, not 0"),
    (dict(a=np.ones((3, 4)), x=np.ones(4), cols=True), "Column count must be an integer "
                                                       "between 1 and 1024, not True"),
    (dict(a=np.ones((3, 4)), x=np.ones(4), cols=2, colors=2),
     "The GEMV mapping on 2 array columns needs 3 colors; the PE has 2"),
    (dict(a=np.ones((80, 4)), x=np.ones(4), rows=1), "The GEMV needs 80 accumulators per PE "
                                                     "(output rows per array row); the PE "
                                                     "has max_len 64"),
    (dict(a=np.ones((8, 40)), x=np.ones(4 * 10), rows=1, cols=1, mem_words=256),
     "The A block per PE needs 8 x 40 = 320 words of mem; the PE has mem_words 256"),
    (dict(a=np.ones((3, 4)), x=np.ones(4), mem_words=0), "Memory size (words) must be"),
])
def test_gemv_fast_errors(kwargs, message):
    a, x = kwargs.pop("a"), kwargs.pop("x")
    with pytest.raises(ValueError) as info:
        gemv_fast(a, x, ArrayParams.build(**kwargs))
    assert message in str(info.value)


#: (rows, cols, M, N, B, weight density): the RTL regression shapes and a few more, all with
#: M x L >= 5. Below that, consecutive weights come back to one accumulator row sooner than
#: 5 cycles apart and the hazard sets the pace, which gemm_cycles does not model.
GEMM_CASES = [(1, 1, 6, 5, 3, 1.0), (1, 1, 6, 5, 3, 0.6), (2, 2, 40, 7, 5, 1.0),
              (2, 2, 40, 7, 5, 0.25), (3, 4, 9, 10, 7, 1.0), (3, 4, 9, 10, 7, 0.25),
              (4, 4, 13, 18, 10, 1.0), (4, 4, 13, 18, 10, 0.25), (4, 4, 5, 20, 8, 0.0),
              (4, 4, 16, 64, 16, 0.1)]


@pytest.mark.parametrize("rows,cols,m,n,batch,density", GEMM_CASES,
                         ids=[f"{r}x{c}-{m}x{n}x{b}-d{d}" for r, c, m, n, b, d in GEMM_CASES])
def test_gemm_fast_cycles_match_exact_model(rows, cols, m, n, batch, density):
    rng = np.random.default_rng(rows * 1000 + cols * 100 + m)
    w = rng.standard_normal((m, n)) * (rng.random((m, n)) < density)
    x = rng.standard_normal((n, batch))
    # No ReLU, and densities that leave no trailing row of W all zero: gemm_cycles assumes
    # the last result of each row is sent, and a zero result is not (1 x 1, M, N, B = 6, 5, 3
    # at density 0.25 with this seed: 54 estimated, 51 exact).
    work = gemm_program(w, x, ArrayParams.build(rows=rows, cols=cols, **PE))
    exact = run_workload(work, "golden")
    y_exact = collect_matrix([exact.outputs[o] for o in work.outputs], m, batch)
    y, stats = gemm_fast(w, x, ArrayParams.build(rows=rows, cols=cols, **PE))
    assert np.array_equal(_bits(y), _bits(y_exact))
    assert stats.fmac_ops == exact.total("fmac_issues")
    assert abs(stats.cycles - exact.cycles) <= TOLERANCE * exact.cycles, \
        (stats.cycles, exact.cycles)
