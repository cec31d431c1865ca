"""Two GEMM layers with layer 1's results scattered back into the rows (fabric/workloads/
layers.py), on the cycle-exact array model: Y2 bit for bit against the fast model's two GEMMs
and within the arithmetic's bound of float64, the scatter's encodings, reconfiguration keeping
memories, and every error message. The RTL runs are in tests/test_array_sim.py."""

import numpy as np
import pytest

from wafer_engine.rtl.params import ArrayParams
from wafer_engine.fabric.model.array_model import ArrayModel
from wafer_engine.fabric.workloads.error_bound import chain_additions, reference_bound
from wafer_engine.fabric.fast.gemm import gemm_fast
from wafer_engine.fabric.workloads.gemm import collect_matrix, gemm_program
from wafer_engine.fabric.workloads.layers import (SCATTER_COLOR, load_program, run_stages,
                                                  two_layer_program)
from wafer_engine.rtl.ports import Port

PE = dict(colors=3, mem_words=1024, acc_words=1024, max_len=512)

#: (rows, cols, M1, N1, M2, B, density of W1 and W2): even and uneven splits, one layer-2
#: column (2 columns), more rows than columns, sparse down to 0.1, an all-zero W1 (Y1 = 0:
#: nothing is scattered, the stored block stays at its +0 image), and 120 and 256 results per
#: row (the latter deadlocks when drained in one burst: test_one_burst_deadlocks).
CASES = [(1, 2, 4, 5, 3, 2, 1.0), (2, 2, 7, 6, 5, 4, 1.0), (3, 4, 9, 10, 6, 7, 0.5),
         (4, 4, 13, 18, 8, 10, 0.25), (5, 3, 11, 8, 9, 12, 0.1), (2, 3, 6, 7, 4, 5, 0.0),
         (2, 2, 40, 7, 6, 5, 1.0), (1, 4, 64, 8, 3, 4, 1.0)]


def _bits(y):
    return np.asarray(y, dtype=np.float32).view(np.uint32)


def _operands(m1, n1, m2, batch, density, seed):
    rng = np.random.default_rng(seed)
    w1 = rng.standard_normal((m1, n1)) * (rng.random((m1, n1)) < density)
    x = rng.standard_normal((n1, batch))
    w2 = rng.standard_normal((m2, m1)) * (rng.random((m2, m1)) < max(density, 0.3))
    return w1, x, w2


@pytest.mark.parametrize("relu2", [False, True], ids=["plain", "relu2"])
@pytest.mark.parametrize("rows,cols,m1,n1,m2,batch,density", CASES,
                         ids=[f"{r}x{c}-d{d}" for r, c, _, _, _, _, d in CASES])
def test_two_layers(rows, cols, m1, n1, m2, batch, density, relu2):
    w1, x, w2 = _operands(m1, n1, m2, batch, density, seed=rows * 10 + cols)
    stages = two_layer_program(w1, x, w2, ArrayParams.build(rows=rows, cols=cols, **PE),
                               relu2=relu2)
    model, cycles, span = run_stages(stages)
    y2 = collect_matrix([model.outputs[o] for o in stages[-1].work.outputs], m2, batch)
    y1, _ = gemm_fast(w1, x, ArrayParams.build(rows=rows, cols=cols, **PE), relu=True)
    want, _ = gemm_fast(w2, y1, ArrayParams.build(rows=rows, cols=cols - 1, **PE), relu=relu2)
    assert np.array_equal(_bits(y2), _bits(want))
    ref1, bound1 = reference_bound(w1, x, chain_additions(n1, cols), relu=True)
    assert np.all(np.abs(y1 - ref1) <= bound1), np.max(np.abs(y1 - ref1) / bound1)
    # Layer 2 multiplies the fp16 Y1 the fabric stored (exact operands), on cols - 1 columns.
    ref2, bound2 = reference_bound(w2, y1, chain_additions(m1, cols - 1), relu2)
    assert np.all(np.abs(y2 - ref2) <= bound2), np.max(np.abs(y2 - ref2) / bound2)
    counters = model.counters().values()
    assert sum(c["errors"] + c["no_task"] for c in counters) == 0
    # Every non-zero weight of each layer ran its batch slice in every row.
    nonzero = [int(np.count_nonzero(w.astype(np.float16))) for w in (w1, w2)]
    assert sum(c["fmac_issues"] for c in counters) == (nonzero[0] + nonzero[1]) * batch
    # Weights, the scatter in bursts of out_depth chain steps, weights, drain.
    out_depth = ArrayParams.build(rows=rows, cols=cols, **PE).pe.out_depth
    assert len(cycles) == 1 + -(-m1 * -(-batch // rows) // out_depth) + 2


def test_scatter_fills_the_layer2_blocks():
    """After the scatter stage, PE (r, c < C-1) holds relu(Y1)[J2_c, B_r] in MAC layout at
    the block base plus J2_c.start * L, and the last column stored nothing."""
    rows, cols, m1, n1, m2, batch = 2, 3, 6, 7, 4, 5
    w1, x, w2 = _operands(m1, n1, m2, batch, 1.0, seed=4)
    stages = two_layer_program(w1, x, w2, ArrayParams.build(rows=rows, cols=cols, **PE))
    model, _, _ = run_stages(stages[:2])
    y1, _ = gemm_fast(w1, x, ArrayParams.build(rows=rows, cols=cols, **PE), relu=True)
    y1_bits = y1.astype(np.float16).view(np.uint16)
    base = 3 * 3            # |J1_0| x L_0: 3 features of X in column 0, 3 batch columns in row 0
    for r, (b0, length) in enumerate([(0, 3), (3, 2)]):
        for c, (i0, i1) in enumerate([(0, 3), (3, 6)]):
            block = model.pes[(r, c)].mem[base + i0 * length:base + i1 * length]
            assert np.array_equal(block, y1_bits[i0:i1, b0:b0 + length].reshape(-1))
            outside = np.delete(model.pes[(r, c)].mem[base:base + m1 * length],
                                np.arange(i0 * length, i1 * length))
            assert not outside.any()
        assert not model.pes[(r, cols - 1)].mem[base:].any()


def test_one_burst_and_bursts_agree():
    """All 256 chain steps of a 1 x 4 row's scatter in one phase: with the PE's output credits
    (a result issues only with a place in the output FIFO) this completes, where a PE whose
    whole pipeline stalled on a full output FIFO locked a column sending partial sums east
    against its east neighbour sending results west. The scatter still runs in bursts of
    ``out_depth``, which rules the lock out by construction; both give the same Y2."""
    w1, x, w2 = _operands(64, 8, 3, 4, 1.0, seed=1)
    params = ArrayParams.build(rows=1, cols=4, **PE)
    stages = two_layer_program(np.abs(w1), np.abs(x), w2, params)
    model, _, _ = run_stages(stages[:1])
    scatter = stages[1].work
    assert len(scatter.phases) == 256 // params.pe.out_depth
    load_program(model, scatter.program)
    one_burst = {}
    for phase in scatter.phases:
        for edge, stream in phase.items():
            one_burst.setdefault(edge, []).extend(stream)
    model.run(one_burst, max_cycles=5000)
    model, _, _ = run_stages(stages[2:], model)
    y2_one = collect_matrix([model.outputs[o] for o in stages[2].work.outputs], 3, 4)
    model, _, _ = run_stages(stages)
    y2 = collect_matrix([model.outputs[o] for o in stages[-1].work.outputs], 3, 4)
    y1, _ = gemm_fast(np.abs(w1), np.abs(x), ArrayParams.build(rows=1, cols=4, **PE), relu=True)
    want = _bits(gemm_fast(w2, y1, ArrayParams.build(rows=1, cols=3, **PE))[0])
    assert np.array_equal(_bits(y2), want)
    assert np.array_equal(_bits(y2_one), want)


def test_scatter_routes_and_filters():
    """The scatter stage's color-0 routes: west along each row from the last column's PE,
    delivered to each PE only for its layer-2 features, index i * L + b."""
    stages = two_layer_program(np.ones((7, 6)), np.ones((6, 4)), np.ones((3, 7)),
                               ArrayParams.build(rows=2, cols=3, **PE))
    program = stages[1].work.program
    length = 2
    assert program.route((0, 2), SCATTER_COLOR).rx == {Port.RAMP}
    assert program.route((0, 2), SCATTER_COLOR).tx == {Port.W}
    assert program.route((0, 1), SCATTER_COLOR).tx == {Port.RAMP, Port.W}
    assert program.route((0, 0), SCATTER_COLOR).tx == {Port.RAMP}
    # Layer 2's 7 features over 2 columns: 0..3 and 4..6.
    assert (program.route((1, 0), SCATTER_COLOR).lo, program.route((1, 0), SCATTER_COLOR).hi) \
        == (0, 4 * length - 1)
    assert (program.route((1, 1), SCATTER_COLOR).lo, program.route((1, 1), SCATTER_COLOR).hi) \
        == (4 * length, 7 * length - 1)


def test_load_program_keeps_memory_and_matches_a_fresh_model():
    """Loading the GEMM program again over a finished run leaves mem and acc as they were
    except for what the program lists, and a second run gives the first run's results."""
    rng = np.random.default_rng(2)
    w, x = rng.standard_normal((5, 6)), rng.standard_normal((6, 4))
    work = gemm_program(w, x, ArrayParams.build(rows=2, cols=2, **PE))
    model = ArrayModel(work.program)
    first = [model.run(phase) for phase in work.phases]
    outputs = {e: list(s) for e, s in model.outputs.items()}
    model.pes[(0, 0)].mem[900] = 0x3C00      # outside the program's images
    load_program(model, work.program)
    assert model.pes[(0, 0)].mem[900] == 0x3C00
    for e in model.outputs:
        model.outputs[e] = []
    second = [model.run(phase) for phase in work.phases]
    assert second == first
    assert [[w for _, w in model.outputs[e]] for e in sorted(model.outputs)] == \
        [[w for _, w in outputs[e]] for e in sorted(outputs)]
    y = collect_matrix([model.outputs[o] for o in work.outputs], 5, 4)
    assert np.array_equal(_bits(y),
                          _bits(gemm_fast(w, x, ArrayParams.build(rows=2, cols=2, **PE))[0]))


@pytest.mark.parametrize("args,kwargs,message", [
    ((np.ones((4, 5)), np.ones((5, 2)), np.ones((3, 4)), 2, 1), {},
     "Scattering layer 1's results back needs at least 2 array columns, not 1"),
    ((np.ones((4, 5)), np.ones((5, 2)), np.ones((3, 5)), 2, 2), {},
     "Matrix W2 of shape (3, 5) cannot multiply the results of W1 of shape (4, 5)"),
    ((np.ones((4, 5)), np.ones((5, 2)), np.array([[1, np.inf, 0, 0]]), 2, 2), {},
     "The matrix W2 holds NaN or infinite values"),
    ((np.ones((4, 5)), np.ones((6, 2)), np.ones((3, 4)), 2, 2), {},
     "Matrix W of shape (4, 5) cannot multiply X of shape (6, 2)"),
    # Layer 2 spreads M1 = 2 features over 3 columns.
    ((np.ones((2, 5)), np.ones((5, 2)), np.ones((3, 2)), 2, 4), {},
     "X has 2 input features for 3 array columns"),
    ((np.ones((4, 5)), np.ones((5, 2)), np.ones((3, 4)), 2, 2), dict(colors=2),
     "The GEMM mapping needs 3 colors"),
    ((np.ones((60, 40)), np.ones((40, 8)), np.ones((3, 60)), 1, 2), dict(mem_words=512),
     "The X block (20 x 8) and layer 1's results (60 x 8) need 640 words of mem per PE; the "
     "PE has mem_words 512"),
])
def test_two_layer_errors(args, kwargs, message):
    with pytest.raises(ValueError) as info:
        two_layer_program(*args[:3],
                          ArrayParams.build(**{**PE, **dict(zip(("rows", "cols"), args[3:])), **kwargs}))
    assert message in str(info.value)


def test_load_program_rejects_another_array():
    model = ArrayModel(gemm_program(np.ones((3, 4)), np.ones((4, 2)), ArrayParams.build(rows=2, cols=2, **PE)).program)
    other = gemm_program(np.ones((3, 4)), np.ones((4, 2)),
                         ArrayParams.build(rows=1, cols=2, **PE)).program
    with pytest.raises(ValueError) as info:
        load_program(model, other)
    assert "A 1x2 program with 3 colors cannot be loaded into a 2x2 array with 3" in \
        str(info.value)
