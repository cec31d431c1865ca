"""Pass planning: any problem size on a fixed array, bit-exact joins, errors before any run."""

import re

import numpy as np
import pytest

from wafer_engine.fabric.fast.gemm import gemm_fast
from wafer_engine.fabric.fast.gemv import gemv_fast
from wafer_engine.fabric.model.fp_model import fp16_mul, fp32_add, fp32_relu, fp32_to_fp16
from wafer_engine.fabric.workloads.common import split, to_fp16_bits
from wafer_engine.fabric.workloads.error_bound import reference_bound
from wafer_engine.fabric.workloads.gemm import gemm_program
from wafer_engine.rtl.params import ArrayParams
from wafer_engine.sw.backends.run import run_workload
from wafer_engine.sw.passes.plan import plan_gemm, plan_gemv
from wafer_engine.sw.passes.run import run_gemm_passes, run_gemv_passes


def golden(work):
    return run_workload(work, "golden")


def chain_reference(w, x, plan, relu):
    """Y entry by entry with the fabric's adder in the planned order, independently of the
    mappings: per N block, each column's features rising from +0 (zero weights skipped), the
    columns' sums chained, the blocks' sums added in N order; then ReLU and fp16."""
    w16, x16 = to_fp16_bits(w), to_fp16_bits(x)
    m, batch = w.shape[0], x.shape[1]
    y = np.zeros((m, batch), dtype=np.float32)
    cols = {p.n.start: p.params.cols for p in plan.passes}
    for i in range(m):
        for b in range(batch):
            total = None
            for block in plan.n_blocks:
                s = None
                for part in split(len(block), cols[block.start]):
                    acc = np.uint32(0)
                    for j in range(block.start + part.start, block.start + part.stop):
                        if w16[i, j] & 0x7FFF:
                            acc = fp32_add(fp16_mul(w16[i, j], x16[j, b]), acc)
                    s = acc if s is None else fp32_add(s, acc)
                total = s if total is None else fp32_add(total, s)
            r = fp32_relu(total) if relu else total
            h = np.uint16(fp32_to_fp16(r))
            y[i, b] = np.array([h if h & 0x7FFF else 0], np.uint16).view(np.float16)[0]
    return y


@pytest.mark.parametrize("m,n,batch,rows,cols,passes", [
    (24, 40, 12, 2, 3, 3),     # 24 x 6 accumulators per PE: three blocks of 8 output rows
    (32, 64, 8, 1, 1, 4),      # 32 x 8 on one PE of max_len 64: four blocks of 8
    (5, 3, 2, 4, 4, 1),        # fewer batch columns and features than rows and columns
])
def test_gemm_plans_passes_that_fit(m, n, batch, rows, cols, passes):
    plan = plan_gemm(m, n, batch, ArrayParams(rows=rows, cols=cols))
    assert len(plan.passes) == passes and not plan.split_n
    covered = np.zeros((m, batch), dtype=int)
    for p in plan.passes:
        assert p.params.rows <= min(rows, len(p.batch)) and p.params.cols <= min(cols, n)
        covered[p.m.start:p.m.stop, p.batch.start:p.batch.stop] += 1
    assert np.all(covered == 1)


@pytest.mark.parametrize("m,n,batch,rows,cols", [(24, 40, 12, 2, 3), (32, 64, 8, 1, 1)])
def test_cutting_rows_and_batch_changes_no_bit(m, n, batch, rows, cols):
    """The multi-pass golden run equals, bit for bit, one pass on a PE large enough to hold
    the whole problem with the same array shape."""
    rng = np.random.default_rng(m)
    w = rng.standard_normal((m, n)) * (rng.random((m, n)) < 0.5)
    x = rng.standard_normal((n, batch))
    params = ArrayParams(rows=rows, cols=cols)
    plan = plan_gemm(m, n, batch, params)
    y, runs = run_gemm_passes(w, x, plan, golden, relu=True)
    whole, _ = gemm_fast(w, x, params.replace(max_len=4096, acc_words=4096), relu=True)
    assert len(runs) == len(plan.passes) > 1
    assert y.tobytes() == whole.tobytes()
    ref, bound = reference_bound(w, x, plan.additions(), relu=True)
    assert np.all(np.abs(y - ref) <= bound)
    nonzero = int(np.count_nonzero(w.astype(np.float16)))
    assert sum(r.result.total("fmac_issues") for r in runs) == nonzero * batch


@pytest.mark.parametrize("relu", [False, True])
def test_gemm_split_features_add_fp32_partials_on_the_host(relu):
    """mem_words 8 holds 8 features per column: 40 features on 2 columns need 3 blocks."""
    rng = np.random.default_rng(5)
    w = rng.standard_normal((5, 40)) * (rng.random((5, 40)) < 0.7)
    x = rng.standard_normal((40, 3))
    plan = plan_gemm(5, 40, 3, ArrayParams.build(rows=2, cols=2, mem_words=8))
    assert plan.split_n and [len(b) for b in plan.n_blocks] == [14, 13, 13]
    y, runs = run_gemm_passes(w, x, plan, golden, relu=relu)
    assert y.tobytes() == chain_reference(w, x, plan, relu).tobytes()
    ref, bound = reference_bound(w, x, plan.additions(), relu=relu)
    assert plan.additions() == 6 + 1 + 2
    assert np.all(np.abs(y - ref) <= bound)
    # Every pass sends its sums unrounded and dense: M x L per row, zeros included.
    assert all(sum(len(s) for s in r.result.outputs.values()) == 5 * len(r.block.batch)
               for r in runs)


def test_a_dropped_partial_is_caught():
    """The exact check above can fail: leaving out one N block's partial sums changes Y."""
    rng = np.random.default_rng(5)
    w, x = rng.standard_normal((5, 40)), rng.standard_normal((40, 3))
    plan = plan_gemm(5, 40, 3, ArrayParams.build(rows=2, cols=2, mem_words=8))

    assert plan.passes[2].n == plan.n_blocks[2]
    count = []

    def drop_third_pass(work):
        result = golden(work)
        count.append(1)
        if len(count) == 3:      # its sums read as +0
            result.outputs = {k: [(c, wv._replace(payload=0)) for c, wv in s]
                              for k, s in result.outputs.items()}
        return result
    y, _ = run_gemm_passes(w, x, plan, drop_third_pass)
    assert y.tobytes() != chain_reference(w, x, plan, False).tobytes()


def test_gemv_passes_bit_exact_and_split():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((30, 40))
    x = rng.standard_normal(40) * (rng.random(40) < 0.6)
    # Rows only: 300 output rows on a 2 x 2 array of max_len 64.
    big = rng.standard_normal((300, 40))
    plan = plan_gemv(300, 40, ArrayParams(rows=2, cols=2))
    assert len(plan.passes) == 3 and not plan.split_n
    y, _ = run_gemv_passes(big, x, plan, golden)
    whole, _ = gemv_fast(big, x, ArrayParams.build(rows=2, cols=2, max_len=256))
    assert y.tobytes() == whole.tobytes()
    # Features split: mem_words 8 holds 8 features per column.
    plan = plan_gemv(30, 40, ArrayParams.build(rows=2, cols=2, mem_words=8))
    assert plan.split_n and len(plan.n_blocks) == 3
    y, _ = run_gemv_passes(a, x, plan, golden, relu=True)
    expect = chain_reference(a, x[:, None], plan, True)[:, 0]
    assert y.tobytes() == expect.tobytes()
    ref, bound = reference_bound(a, x, plan.additions(), relu=True)
    assert np.all(np.abs(y - ref) <= bound)


def test_large_array_uses_the_tiles_it_needs():
    plan = plan_gemv(8, 16, ArrayParams(rows=1000, cols=1000))
    assert [p.params.rows for p in plan.passes] == [2]      # ceil(8 / 5) rows
    assert [p.params.cols for p in plan.passes] == [16]
    plan = plan_gemm(8, 16, 3, ArrayParams(rows=1000, cols=1000))
    assert {(p.params.rows, p.params.cols) for p in plan.passes} == {(3, 16)}
    # A board's array is fixed: the mapping's own check refuses the fewer batch columns.
    with pytest.raises(ValueError, match=r"^X has 3 batch columns for 1000 array rows: rows "
                                         r"3\.\.999 would own none; use at most 3 rows$"):
        plan_gemm(8, 2000, 3, ArrayParams(rows=1000, cols=1000), shrink=False)


def test_512_gemm_plans_before_running():
    plan = plan_gemm(512, 512, 64, ArrayParams(rows=4, cols=4))
    assert len(plan.passes) == 128 and not plan.split_n
    # Each pass fills the drain: 4 output rows x 16 batch columns per PE = max_len 64.
    assert {(len(p.m), len(p.batch)) for p in plan.passes} == {(4, 64)}


@pytest.mark.parametrize("call,message", [
    (lambda: plan_gemm(0, 3, 3, ArrayParams()), "M must be a positive integer, not 0"),
    (lambda: plan_gemm(3, 3, 2.5, ArrayParams()), "B must be a positive integer, not 2.5"),
    (lambda: plan_gemv(3, -1, ArrayParams()), "N must be a positive integer, not -1"),
    (lambda: plan_gemm(3, 3, 3, ArrayParams.build(colors=2)),
     "The GEMM mapping needs 3 colors (weights and two partial-sum colors); the PE has 2"),
    (lambda: plan_gemv(3, 9, ArrayParams.build(colors=2)),
     "The GEMV mapping on 4 array columns needs 3 colors; the PE has 2"),
    (lambda: gemm_program(np.ones((2, 2)), np.ones((2, 2)), ArrayParams(rows=1, cols=1),
                          relu=True, fp32_out=True),
     "ReLU applies to whole sums; fp32 partial sums leave without it"),
])
def test_plan_errors(call, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        call()
