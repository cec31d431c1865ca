"""The arithmetic's error bound against float64 (fabric/workloads/error_bound.py): the mappings'
summation lengths, a sum that reaches the bound (so it is no looser than the arithmetic), every
workload's real results inside it, and the same results with one product term dropped outside
it (so the comparisons that use it can fail)."""

import numpy as np
import pytest

from wafer_engine.fabric.workloads.error_bound import U32, chain_additions, reference_bound
from wafer_engine.fabric.fast.gemv import gemv_fast
from wafer_engine.fabric.fast.gemm import gemm_fast, wgrad_fast
from wafer_engine.fabric.workloads import collect_vector, gemv_program
from wafer_engine.fabric.workloads.common import from_fp16_bits, to_fp16_bits
from wafer_engine.fabric.workloads.gemm import collect_matrix, gemm_program
from wafer_engine.fabric.workloads.wgrad import collect_gradients, wgrad_program
from wafer_engine.sw.backends.run import run_workload
from wafer_engine.rtl.params import ArrayParams

PE = dict(colors=3, mem_words=1024, acc_words=1024, max_len=512)


def _fp16(a):
    return from_fp16_bits(to_fp16_bits(a)).astype(np.float64)


@pytest.mark.parametrize("terms,parts,additions", [
    (1, 1, 0), (5, 1, 4), (7, 3, 2 + 2), (200, 8, 24 + 7), (3, 4, 0 + 3), (10, 2, 4 + 1)])
def test_chain_additions(terms, parts, additions):
    """``7, 3``: slices of 3, 2, 2; the first slice's first product meets 2 roundings in its
    PE and one per later slice. ``3, 4``: one product per slice (the last slice empty)."""
    assert chain_additions(terms, parts) == additions


def test_chain_additions_is_the_longest_path_and_the_bound_is_reached():
    """A sum that loses 2^-24 at every addition on the longest path: the weight gradient over
    5 rows with batch slices of 3, ``dY = X = [1, t, t | t, 0, 0 | ...]`` (``t = 2^-12``, so
    each small product is 2^-24). Row 0 sums ``1 + 2^-24 + 2^-24``: both additions are ties
    and round to even, back to 1; rows 1..4 sum exactly to 2^-24, and each chain addition
    ``1 + 2^-24`` rounds back to 1 again. The error is 2^-24 per addition of the path,
    chain_additions(15, 5) = 2 + 4 = 6 of them, and reaches the bound (ratio above 0.99):
    the bound is no looser than the arithmetic, and a bound a little smaller would fail."""
    batch, rows = 15, 5
    v = np.zeros(batch)
    v[0], v[[1, 2, 3, 6, 9, 12]] = 1.0, 2.0 ** -12
    dy, x = v[None, :], v[None, :]
    dw, _ = wgrad_fast(np.ones((1, 1), bool), dy, x, ArrayParams.build(rows=rows, cols=1, **PE))
    additions = chain_additions(batch, rows)
    ref, bound = reference_bound(dy, x.T, additions, fp16_result=False)
    error = ref[0, 0] - float(dw[0, 0])
    assert float(dw[0, 0]) == 1.0 and error == additions * U32 == 6 * U32
    assert 0.99 < error / bound[0, 0] <= 1
    # One addition fewer in the count and the real result fails.
    assert error > reference_bound(dy, x.T, additions - 1, fp16_result=False)[1][0, 0]


def test_bound_reaches_the_arithmetic():
    """A sum the fabric rounds down at every addition: 1 then 2^-24 (= 2^-12 x 2^-12) k times,
    in one PE (the weight gradient over one row, fp32 result). Each ``1 + 2^-24`` is a tie and
    rounds to even (1), so the error is k 2^-24, and the bound is k 2^-24 (1 + k 2^-24) /
    (1 - k 2^-24) plus k 2^-126: the ratio is above 0.99. Half the bound would reject it."""
    k = 100
    dy = np.concatenate([[1.0], np.full(k, 2.0 ** -12)])[None, :]
    x = dy.copy()
    dw, _ = wgrad_fast(np.ones((1, 1), bool), dy, x, ArrayParams.build(rows=1, cols=1, **PE))
    ref, bound = reference_bound(dy, x.T, chain_additions(k + 1, 1), fp16_result=False)
    error = abs(float(dw[0, 0]) - ref[0, 0])
    assert float(dw[0, 0]) == 1.0 and error == k * U32
    assert 0.99 < error / bound[0, 0] <= 1
    assert error > bound[0, 0] / 2


def test_no_partial_sum_is_flushed():
    """Why the bound has no flush-to-zero term: fp16 products are multiples of 2^-48 and
    partial sums stay multiples of 2^-71, so a cancellation leaves at least the smallest
    product, 2^-48 (far above 2^-126), which the fabric keeps exactly."""
    dy = np.array([[1.0, -1.0, 2.0 ** -24]])
    x = np.array([[1.0, 1.0, 2.0 ** -24]])
    dw, _ = wgrad_fast(np.ones((1, 1), bool), dy, x, ArrayParams.build(rows=1, cols=1, **PE))
    assert float(dw[0, 0]) == 2.0 ** -48
    ref, bound = reference_bound(dy, x.T, 2, fp16_result=False)
    assert ref[0, 0] == 2.0 ** -48 and abs(float(dw[0, 0]) - ref[0, 0]) <= bound[0, 0]


def test_reference_uses_the_fp16_operands_and_relu():
    """1.0001 is 1 in fp16; the ReLU'd bound keeps the fp32 term of the unReLU'd sum."""
    a, b = np.array([[1.0001, -3.0]]), np.array([1.0, 1.0])
    ref, bound = reference_bound(a, b, 1)
    assert ref.tolist() == [-2.0]
    assert bound.tolist() == [(U32 / (1 - U32)) * 4 * (1 + 2.0 ** -11) + 2.0 ** -11 * 2
                              + 2.0 ** -25]
    ref, bound = reference_bound(a, b, 1, relu=True)
    assert ref.tolist() == [0.0]
    assert bound.tolist() == [(U32 / (1 - U32)) * 4 * (1 + 2.0 ** -11) + 2.0 ** -25]


@pytest.mark.parametrize("call,message", [
    (lambda: reference_bound(np.ones((3, 4)), np.ones(5), 1),
     r"Operands of shapes \(3, 4\) and \(5,\) do not multiply"),
    (lambda: reference_bound(np.ones(4), np.ones(4), 1),
     r"Operands of shapes \(4,\) and \(4,\) do not multiply"),
    (lambda: reference_bound(np.ones((2, 2)), np.ones(2), -1),
     r"Additions must be an integer in \[0, 2\^24\), not -1"),
    (lambda: reference_bound(np.ones((2, 2)), np.ones(2), 2 ** 24),
     r"Additions must be an integer in \[0, 2\^24\), not 16777216"),
    (lambda: reference_bound(np.ones((2, 2)), np.ones(2), 1.0),
     r"Additions must be an integer in \[0, 2\^24\), not 1.0"),
    (lambda: chain_additions(0, 2), r"Term count must be a positive integer, not 0"),
    (lambda: chain_additions(4, True), r"Part count must be a positive integer, not True"),
])
def test_errors(call, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        call()


# -- every workload's comparison against float64 ---------------------------------------------
# Each case returns (y, a, b, additions, relu, fp16_result): the fabric's result of a @ b as
# the test named in the id computes it (same seeds and shapes), on the golden backend or a fast
# model that tests/test_fast_gemv.py and tests/test_fast_model.py hold bit-exact with it.

def _gemv_numpy():                              # tests/test_fast_gemv.py
    rng = np.random.default_rng(3)
    a, x = rng.standard_normal((96, 200)), rng.standard_normal(200)
    x[rng.random(200) < 0.5] = 0
    return gemv_fast(a,
                     x,
                     ArrayParams.build(rows=8, cols=8))[0], a, x, chain_additions(200, 8), False, True


def _gemv_array(rows, cols, density_index):     # tb/array/test_array.py's first runs
    rng = np.random.default_rng(100 + rows * 10 + cols)
    for density in [1.0, 0.3][:density_index + 1]:
        m, n = 3 * rows + 1, 2 * cols + 1
        a = rng.standard_normal((m, n))
        x = rng.standard_normal(n) * (rng.random(n) < density)
    work = gemv_program(a, x, ArrayParams.build(rows=rows, cols=cols, **PE))
    result = run_workload(work, "golden")
    y = collect_vector([result.outputs[o] for o in work.outputs], work.length)
    return y, a, x, chain_additions(n, cols), False, True


def _gemv_cli():                                # tests/test_cli_linalg.py, wafer gemv
    rng = np.random.default_rng(7)
    a = rng.standard_normal((37, 22))
    x = rng.standard_normal(22) * (rng.random(22) < 0.4)
    return gemv_fast(a,
                     x,
                     ArrayParams.build(rows=3, cols=2, **PE))[0], a, x, chain_additions(22, 2), False, True


def _gemm(rows, cols, m, n, batch, density, relu, seed):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((m, n)) * (rng.random((m, n)) < density)
    x = rng.standard_normal((n, batch))
    return gemm_fast(w, x, ArrayParams.build(rows=rows, cols=cols, **PE), relu=relu)[0], w, x, chain_additions(n, cols), \
        relu, True


def _gemm_exact(rows, cols, m, n, batch, density, relu, seed):   # tb/array/test_gemm.py
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((m, n)) * (rng.random((m, n)) < density)
    x = rng.standard_normal((n, batch))
    work = gemm_program(w, x, ArrayParams.build(rows=rows, cols=cols, **PE), relu=relu)
    result = run_workload(work, "golden")
    y = collect_matrix([result.outputs[o] for o in work.outputs], m, batch)
    return y, w, x, chain_additions(n, cols), relu, True


def _gemm_cli():                                # tests/test_cli_linalg.py, wafer gemm --relu
    rng = np.random.default_rng(3)
    w = rng.standard_normal((9, 21)) * (rng.random((9, 21)) < 0.3)
    x = rng.standard_normal((21, 10))
    return gemm_fast(w, x, ArrayParams.build(rows=4, cols=4),
                     relu=True)[0], w, x, chain_additions(21, 4), True, True


def _fast_model():                              # tests/test_fast_model.py
    rng = np.random.default_rng(5)
    w = rng.standard_normal((20, 30)) * (rng.random((20, 30)) < 0.3)
    x = rng.standard_normal((30, 8))
    return gemm_fast(w,
                     x,
                     ArrayParams.build(rows=2, cols=3, **PE))[0], w, x, chain_additions(30, 3), False, True


def _layers(rows, cols, m1, n1, m2, batch, density, layer):   # tests/test_array_layers.py
    rng = np.random.default_rng(rows * 10 + cols)
    w1 = rng.standard_normal((m1, n1)) * (rng.random((m1, n1)) < density)
    x = rng.standard_normal((n1, batch))
    w2 = rng.standard_normal((m2, m1)) * (rng.random((m2, m1)) < max(density, 0.3))
    y1 = gemm_fast(w1, x, ArrayParams.build(rows=rows, cols=cols, **PE), relu=True)[0]
    if layer == 1:
        return y1, w1, x, chain_additions(n1, cols), True, True
    y2 = gemm_fast(w2, y1, ArrayParams.build(rows=rows, cols=cols - 1, **PE))[0]
    return y2, w2, y1, chain_additions(m1, cols - 1), False, True


def _wgrad(rows, cols, m, n, batch):            # tests/test_wgrad.py
    rng = np.random.default_rng(m * n)
    mask = rng.random((m, n)) < 0.4
    dy = rng.standard_normal((m, batch))
    dy[1] = 0
    x = rng.standard_normal((n, batch))
    work = wgrad_program(mask, dy, x, ArrayParams.build(rows=rows, cols=cols, **PE))
    result = run_workload(work, "golden")
    dw = collect_gradients([result.outputs[o] for o in work.outputs], mask, dy,
                           work.program.params)
    # Off the mask nothing is computed: compare the mask's positions (dw is +0 elsewhere).
    return np.where(mask, dw, np.nan), dy, x.T, chain_additions(batch, rows), False, False


CASES = {
    "fast_gemv-numpy": _gemv_numpy,
    "array-gemv-2x2-d1.0": lambda: _gemv_array(2, 2, 0),
    "array-gemv-4x4-d0.3": lambda: _gemv_array(4, 4, 1),
    "cli-gemv": _gemv_cli,
    "array_gemm-8x8": lambda: _gemm(8, 8, 24, 40, 16, 1.0, False, 8 * 100 + 8 * 10 + 24),
    "array_gemm-8x8-relu": lambda: _gemm(8, 8, 30, 19, 11, 0.25, True, 8 * 100 + 8 * 10 + 30),
    "array_gemm-2x3": lambda: _gemm(2, 3, 64, 50, 9, 0.1, False, 2 * 100 + 3 * 10 + 64),
    "array_gemm-5x1": lambda: _gemm(5, 1, 7, 3, 23, 0.5, False, 5 * 100 + 1 * 10 + 7),
    "array-gemm-3x4-exact": lambda: _gemm_exact(3, 4, 9, 10, 7, 1.0, False, 134),
    "cli-gemm-relu": _gemm_cli,
    "fast_model": _fast_model,
    "layers-4x4-layer1": lambda: _layers(4, 4, 13, 18, 8, 10, 0.25, 1),
    "layers-4x4-layer2": lambda: _layers(4, 4, 13, 18, 8, 10, 0.25, 2),
    "layers-2x2-layer2": lambda: _layers(2, 2, 40, 7, 6, 5, 1.0, 2),
    "wgrad-3x2": lambda: _wgrad(3, 2, 7, 9, 10),
    "wgrad-4x4": lambda: _wgrad(4, 4, 12, 16, 8),
}


def _drop_median_term(y, a, b, ref, bound, relu, fp16_result):
    """``(entry, term, y')``: at the entry with the widest bound (the most lenient one; with
    ReLU, among positive results, where the ReLU does not hide a change), the product term of
    median magnitude among the entry's non-zero terms is removed from the fabric's result, and
    the value is rounded as the fabric rounds it. The median is a typical term, not one picked
    to be large; the widest bound is the hardest place to catch it."""
    a16, b16 = _fp16(a), _fp16(b)
    b2 = b16 if b16.ndim == 2 else b16[:, None]
    y2, ref2, bound2 = (np.asarray(v).reshape(a16.shape[0], -1) for v in (y, ref, bound))
    candidates = np.isfinite(y2) & ((ref2 > 0) if relu else True)
    candidates &= (np.abs(a16) @ np.abs(b2)) > 0
    wide = np.where(candidates, bound2, -1.0)
    i, j = np.unravel_index(np.argmax(wide), wide.shape)
    terms = a16[i] * b2[:, j]
    terms = terms[terms != 0]
    term = terms[np.argsort(np.abs(terms), kind="stable")[len(terms) // 2]]
    changed = y2[i, j] - term
    if relu:
        changed = max(changed, 0.0)
    changed = float(np.float16(changed)) if fp16_result else float(np.float32(changed))
    return (i, j), term, changed


@pytest.mark.parametrize("case", list(CASES))
def test_real_results_pass_and_a_dropped_term_fails(case):
    y, a, b, additions, relu, fp16_result = CASES[case]()
    ref, bound = reference_bound(a, b, additions, relu, fp16_result)
    error = np.abs(np.asarray(y, dtype=np.float64) - ref)
    live = np.isfinite(error)
    assert live.any()
    assert np.all(error[live] <= bound[live]), np.max(error[live] / bound[live])
    (i, j), term, changed = _drop_median_term(y, a, b, ref, bound, relu, fp16_result)
    ref2, bound2 = ref.reshape(len(a), -1), bound.reshape(len(a), -1)
    assert abs(changed - ref2[i, j]) > bound2[i, j], (case, term, changed, ref2[i, j])
