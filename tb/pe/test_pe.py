"""cocotb tests of the PE; parameters arrive in WAFER_TB_PARAMS (see tests/test_pe_sim.py).

Every test runs the RTL in lockstep with the cycle-exact model (:class:`wafer_engine.tb.pe.tb.PeTB`), so
every cycle's input ready mask, idle flag and output transfer is compared. Directed tests
also check results against values worked out independently of the model (small integers,
whose products and sums are exact in fp32), and timing against the documented cycle costs.
"""

import json
import os
from pathlib import Path

import cocotb
import numpy as np

from wafer_engine.fabric.model.pe_model import PeModel, simulate_pe
from wafer_engine.fabric.program.pe_task import PeProgram, Task
from wafer_engine.fabric.model.traffic import Backpressure
from wafer_engine.fabric.model.wavelet import Wavelet
from wafer_engine.rtl.pe import OUTPUT_ROUND_TRIP
from wafer_engine.rtl.pe.ports import Target
from wafer_engine.rtl.pe.task import Command, Op, TaskEntry

from wafer_engine.tb.pe.tb import PeTB
from wafer_engine.tb.pe.workloads import axpy_problem, mac_problem, random_fp16, small_ints

PARAMS = json.loads(os.environ.get("WAFER_TB_PARAMS", "{}"))
PE = {k: PARAMS[k] for k in ("colors", "mem_words", "acc_words", "max_len", "in_depth",
                             "out_depth") if k in PARAMS}
SEED = PARAMS.get("seed", 1)
#: Scales the random workloads (1 = the default suite).
SCALE = PARAMS.get("scale", 1)
RESULTS = PARAMS.get("results")

#: Cycles between two issues to the same accumulator (the adder's latency: its output is
#: forwarded to its input).
HAZARD_DISTANCE = 4
#: GRAD jobs of one color issue round-robin in groups of up to this many (the adder latency).
GRAD_GROUP = 4


def f16(values):
    return np.asarray(values, dtype=np.float16).view(np.uint16)


def as_f32(bits):
    return np.asarray(bits, dtype=np.uint32).view(np.float32)


def f32_bits(values):
    return np.asarray(values, dtype=np.float32).view(np.uint32)


_previous = []


async def start(dut):
    """A fresh testbench; reset clears the PE's registers but not its memories, so the new
    model starts from the memories the previous test left behind."""
    tb = PeTB(dut, PE)
    if _previous:
        tb.model.mem[:] = _previous[-1].model.mem
        tb.model.acc[:] = _previous[-1].model.acc
    _previous[:] = [tb]
    await tb.reset()
    return tb


def vec_len(tb, want=8):
    return min(want, tb.params.max_len)


def link_period(tb):
    """Cycles per wavelet the input link sustains: a depth-1 FIFO takes every other cycle."""
    return 1 if tb.params.in_depth >= 2 else 2


@cocotb.test()
async def store(dut):
    """STORE writes mem[mem_a + idx]; later writes win; an address past the memory is an
    error and writes nothing."""
    tb = await start(dut)
    p = tb.params
    rng = np.random.default_rng(SEED)
    base = p.mem_words // 2
    rows = min(64, p.mem_words - base)
    await tb.load(PeProgram({0: Task("STORE", mem_a=base, rows=rows)}, params=tb.params))
    idx = rng.integers(0, rows, 3 * rows)
    values = random_fp16(rng, len(idx), special_rate=0.2)
    stream = [Wavelet.half(0, int(v), int(i)) for v, i in zip(values, idx)]
    stream.insert(len(stream) // 2, Wavelet.half(0, 0x1234, p.mem_words - base))
    expected = np.zeros(rows, dtype=np.uint16)
    for v, i in zip(values, idx):
        expected[i] = v
    await tb.run(stream, Backpressure(SEED, p.colors, ports=2, pause_rate=0.3))
    got = await tb.peek(Target.MEM, range(base, base + rows))
    assert got == expected.tolist()
    await tb.check_memories(range(base - 8, p.mem_words), range(0))
    counters = await tb.check_counters()
    assert counters["errors"] == 1 and counters["wavelets_in"] == len(stream)
    assert counters["fmac_issues"] == 0 and counters["wavelets_out"] == 0


@cocotb.test()
async def axpy_exact(dut):
    """AXPY on small integers: acc[k] += x * W[idx][k], onto preloaded accumulators."""
    tb = await start(dut)
    p = tb.params
    rng = np.random.default_rng(SEED + 1)
    n, rows = vec_len(tb), 8
    weights = small_ints(rng, (rows, n))
    acc0 = f32_bits(rng.integers(-20, 20, n))
    task = Task("AXPY", len=n, mem_a=3, acc=5, rows=rows)
    await tb.load(PeProgram({1: task}, mem={3: weights.ravel().tolist()}, acc={5: acc0.tolist()}, params=tb.params))
    idx = rng.integers(0, rows, 40)
    x = small_ints(rng, 40, 1, 4) | (rng.integers(0, 2, 40) << 15).astype(np.uint16)
    stream = [Wavelet.half(1, int(v), int(i)) for v, i in zip(x, idx)]
    await tb.run(stream[:20])
    await tb.run(stream[20:], Backpressure(SEED, p.colors, ports=2, pause_rate=0.5))
    want = as_f32(acc0).astype(np.float64)
    for v, i in zip(x, idx):
        want += float(np.uint16(v).view(np.float16)) * weights[i].view(np.float16)
    got = await tb.peek(Target.ACC, range(5, 5 + n))
    assert got == f32_bits(want).tolist()
    await tb.check_memories(range(0, 3 + rows * n), range(0, 5 + n + 4))
    counters = await tb.check_counters()
    assert counters["fmac_issues"] == 40 * n


@cocotb.test()
async def mac_exact(dut):
    """MAC on small integers: acc[i*len + b] += w * X[j][b] for index i << jbits | j."""
    tb = await start(dut)
    rng = np.random.default_rng(SEED + 2)
    n, rows, cols, jbits = vec_len(tb), 4, 6, 3
    x = small_ints(rng, (cols, n))
    task = Task("MAC", len=n, mem_a=10, acc=2, rows=rows, cols=cols, jbits=jbits)
    await tb.load(PeProgram({0: task}, mem={10: x.ravel().tolist()}, acc={2: [0] * (rows * n)}, params=tb.params))
    w = small_ints(rng, (rows, cols))
    stream = [Wavelet.half(0, int(w[i, j]), i << jbits | j)
              for i in range(rows) for j in range(cols)]
    stream = [stream[k] for k in rng.permutation(len(stream))]
    await tb.run(stream)
    want = (w.view(np.float16).astype(np.float64) @ x.view(np.float16).astype(np.float64))
    got = await tb.peek(Target.ACC, range(2, 2 + rows * n))
    assert got == f32_bits(want.ravel()).tolist()
    await tb.check_memories(range(0, 10 + cols * n), range(0, 2 + rows * n + 2))
    counters = await tb.check_counters()
    assert counters["fmac_issues"] == (rows * cols) * n     # zero skip is off
    assert counters["zeros_skipped"] == 0


@cocotb.test()
async def grad_exact(dut):
    """GRAD emits sum_b Y[i][b] * X[j][b] as a data32 wavelet on out_color, for each (i, j)
    index wavelet; back to back, groups of GRAD_GROUP jobs issue one product per cycle."""
    tb = await start(dut)
    p = tb.params
    rng = np.random.default_rng(SEED + 3)
    n, rows, cols, jbits = vec_len(tb), 3, 5, 4
    x, y = small_ints(rng, (cols, n)), small_ints(rng, (rows, n))
    out = p.colors - 1
    task = Task("GRAD", len=n, mem_a=0, mem_b=100, rows=rows, cols=cols, jbits=jbits,
                out_color=out)
    await tb.load(PeProgram({0: task}, mem={0: x.ravel().tolist(), 100: y.ravel().tolist()}, params=tb.params))
    pairs = [(int(i), int(j)) for i, j in zip(rng.integers(0, rows, 30),
                                              rng.integers(0, cols, 30))]
    stream = [Wavelet.half(0, 0, i << jbits | j) for i, j in pairs]
    res = await tb.run(stream)
    dots = y.view(np.float16).astype(np.float64) @ x.view(np.float16).astype(np.float64).T
    want = [Wavelet(out, int(f32_bits(dots[i, j]))) for i, j in pairs]
    assert [w for _, w in res.emitted] == want
    # Back to back: the jobs of a group end in consecutive cycles, the next group's first job
    # 4 (len - 1) + 1 cycles after the previous group's last one.
    gaps = {b - a for (a, _), (b, _) in zip(res.emitted, res.emitted[1:])}
    if p.out_depth >= OUTPUT_ROUND_TRIP and p.in_depth >= 2:
        assert gaps == {1, GRAD_GROUP * (n - 1) + 1}, gaps
    counters = await tb.check_counters()
    assert counters["fmac_issues"] == 30 * n and counters["wavelets_out"] == 30


@cocotb.test()
async def grad_acc_exact(dut):
    """GRAD_ACC writes sum_b Y[i][b] * X[j][b] to acc[acc + slot], the slot being the index
    wavelet's value field, and sends nothing. A DRAIN on a second color right behind the
    stream reads every slot after its last write (the hazard check and the forwarding cover
    GRAD_ACC's write); a slot beyond acc is an error. Random input gaps and output
    backpressure; the run sustains one product per cycle when nothing holds it up."""
    tb = await start(dut)
    p = tb.params
    rng = np.random.default_rng(SEED + 11)
    n, rows, cols, jbits = vec_len(tb), 3, 5, 4
    slots = min(12, p.max_len, p.acc_words - 8)
    base = p.acc_words - slots
    x, y = small_ints(rng, (cols, n)), small_ints(rng, (rows, n))
    drain = Task("REDUCE", len=slots, acc=base, out_color=0)
    task = Task("GRAD_ACC", len=n, mem_a=0, mem_b=100, acc=base, rows=rows, cols=cols,
                jbits=jbits, slots=slots)
    await tb.load(PeProgram({0: task, 1: drain}, mem={0: x.ravel().tolist(),
                                                      100: y.ravel().tolist()},
                            acc={base: [0] * slots}, params=tb.params))
    dots = y.view(np.float16).astype(np.float64) @ x.view(np.float16).astype(np.float64).T
    for k, bp in enumerate((None, Backpressure(SEED * 10 + 11, p.colors, ports=2,
                                               pause_rate=0.3, stall_rate=0.3))):
        # Slots written twice keep the later sum; the drain follows the last write at once.
        pairs = [(int(i), int(j), int(v)) for i, j, v in zip(
            rng.integers(0, rows, 2 * slots), rng.integers(0, cols, 2 * slots),
            rng.permutation(np.tile(np.arange(slots), 2)))]
        stream = [Wavelet.half(0, v, i << jbits | j) for i, j, v in pairs]
        res = await tb.run(stream + [Wavelet(1, Command.DRAIN.value, 1)], bp)
        want = {v: int(f32_bits(dots[i, j])) for i, j, v in pairs}
        assert [w for _, w in res.emitted] == [Wavelet(0, want[v]) for v in range(slots)]
        if bp is None and p.in_depth >= 2 and n >= GRAD_GROUP:
            # One product per cycle: the stream's FMACs in the cycles before the drain's
            # first output, less the PE's fill.
            assert res.emitted[0][0] <= 2 * slots * n + 2 * OUTPUT_ROUND_TRIP, res.emitted[0]
    await tb.check_memories()
    before = tb.model.counters["errors"]
    await tb.run([Wavelet.half(0, slots - 1, 0), Wavelet.half(0, slots, 0)])
    assert tb.model.counters["errors"] - before == 1
    counters = await tb.check_counters()
    assert counters["wavelets_out"] == 2 * slots


@cocotb.test()
async def reduce_drain_clear(dut):
    """REDUCE (dense, and sparse with ReLU), its wrapping counter, DRAIN (dense and sparse),
    CLEAR (which also restarts REDUCE), DRAIN then CLEAR, and unknown commands."""
    tb = await start(dut)
    p = tb.params
    rng = np.random.default_rng(SEED + 4)
    n = vec_len(tb)
    c_dense, c_sparse, c_out = 0, 1 % p.colors, (p.colors - 1)
    if c_sparse == c_dense:
        return  # needs two colors
    acc0 = rng.integers(-6, 6, 2 * n).astype(np.float32)
    tasks = {c_dense: Task("REDUCE", len=n, acc=0, out_color=c_out),
             c_sparse: Task("REDUCE", len=n, acc=n, out_color=c_out, sparse_out=True,
                            relu=True, index_base=100)}
    await tb.load(PeProgram(tasks, acc={0: f32_bits(acc0).tolist()}, params=tb.params))
    acc_state = acc0.copy()

    # Two and a half rounds of REDUCE on each color, interleaved.
    count = 2 * n + n // 2
    pd = rng.integers(-8, 8, count).astype(np.float32)
    ps = rng.integers(-8, 8, count).astype(np.float32)
    stream = []
    for t in range(count):
        stream += [Wavelet(c_dense, int(f32_bits(pd[t]))), Wavelet(c_sparse, int(f32_bits(ps[t])))]
    want = []
    for t in range(count):
        k = t % n
        want.append(Wavelet(c_out, int(f32_bits(pd[t] + acc_state[k]))))
        s = max(ps[t] + acc_state[n + k], 0.0)
        if s != 0:
            want.append(Wavelet.half(c_out, int(f16(s)), 100 + k))
    res = await tb.run(stream, Backpressure(SEED, p.colors, ports=2, pause_rate=0.2,
                                            stall_rate=0.4))
    assert [w for _, w in res.emitted] == want
    k_state = await tb.peek(Target.STATE, [c_dense, c_sparse])
    assert k_state == [count % n, count % n]

    # DRAIN, dense then sparse with ReLU: accumulators out in order, sparse zeros dropped.
    res = await tb.run([Wavelet(c_dense, Command.DRAIN.value, 1),
                        Wavelet(c_sparse, Command.DRAIN.value, 1)])
    want = [Wavelet(c_out, int(b)) for b in f32_bits(acc_state[:n])]
    want += [Wavelet.half(c_out, int(f16(max(v, 0.0))), 100 + k)
             for k, v in enumerate(acc_state[n:]) if v > 0]
    assert [w for _, w in res.emitted] == want

    # CLEAR the dense block: zeros, and its REDUCE starts again at k = 0.
    await tb.run([Wavelet(c_dense, Command.CLEAR.value, 1)])
    assert await tb.peek(Target.ACC, range(0, 2 * n)) == \
        [0] * n + f32_bits(acc_state[n:]).tolist()
    assert await tb.peek(Target.STATE, [c_dense, c_sparse]) == [0, count % n]
    res = await tb.run([Wavelet(c_dense, int(f32_bits(1.5)))])
    assert [w for _, w in res.emitted] == [Wavelet(c_out, int(f32_bits(1.5)))]

    # DRAIN then CLEAR in one pass; unknown commands are errors and change nothing.
    res = await tb.run([Wavelet(c_sparse, c, 1) for c in (0, 4, 15)]
                       + [Wavelet(c_sparse, Command.DRAIN_CLEAR.value, 1)])
    assert [w for _, w in res.emitted] == want[n:]
    assert await tb.peek(Target.ACC, range(n, 2 * n)) == [0] * n
    await tb.check_memories(range(0), range(0, 2 * n + 4))
    counters = await tb.check_counters()
    assert counters["errors"] == 3 and counters["fmac_issues"] == 0


async def _timed(tb, program, stream):
    """Load ``program``, run ``stream`` back to back; the cycles it took."""
    await tb.load(program)
    res = await tb.run(stream)
    return res.cycles


@cocotb.test()
async def hazards(dut):
    """Back-to-back accumulation into the same accumulators for len 1..8: exact results, and
    each wavelet costs max(len, HAZARD_DISTANCE) cycles in steady state (AXPY: every wavelet
    hits the same row; MAC: consecutive weights of one output row)."""
    tb = await start(dut)
    p = tb.params
    rng = np.random.default_rng(SEED + 5)
    for n in range(1, min(8, p.max_len) + 1):
        rows = 4
        weights = small_ints(rng, (rows, n))
        cost = max(n, HAZARD_DISTANCE, link_period(tb))
        # AXPY: the marginal cost of 16 more wavelets.
        cycles = []
        want = np.zeros(n)
        for count in (8, 24):
            program = PeProgram({0: Task("AXPY", len=n, mem_a=0, acc=0, rows=rows)},
                                mem={0: weights.ravel().tolist()}, acc={0: [0] * n},
                                params=tb.params)
            idx = rng.integers(0, rows, count)
            x = small_ints(rng, count, 1, 3)
            stream = [Wavelet.half(0, int(v), int(i)) for v, i in zip(x, idx)]
            cycles.append(await _timed(tb, program, stream))
            want = np.zeros(n)
            for v, i in zip(x, idx):
                want += float(np.uint16(v).view(np.float16)) * weights[i].view(np.float16)
            assert await tb.peek(Target.ACC, range(n)) == f32_bits(want).tolist(), f"len {n}"
        assert cycles[1] - cycles[0] == 16 * cost, f"AXPY len {n}: {cycles}"

        # MAC: all weights of output row i = 1, one j after the other.
        cols = 4
        task = Task("MAC", len=n, mem_a=0, acc=0, rows=2, cols=cols, jbits=2)
        cycles = []
        for count in (8, 24):
            program = PeProgram({0: task}, mem={0: weights.ravel().tolist()},
                                acc={0: [0] * (2 * n)}, params=tb.params)
            w = small_ints(rng, count, 1, 3)
            js = rng.integers(0, cols, count)
            stream = [Wavelet.half(0, int(v), 1 << 2 | int(j)) for v, j in zip(w, js)]
            cycles.append(await _timed(tb, program, stream))
            want = np.zeros(n)
            for v, j in zip(w, js):
                want += float(np.uint16(v).view(np.float16)) * weights[j].view(np.float16)
            assert await tb.peek(Target.ACC, range(2 * n)) == \
                [0] * n + f32_bits(want).tolist(), f"len {n}"
        assert cycles[1] - cycles[0] == 16 * cost, f"MAC len {n}: {cycles}"

    # A REDUCE and a DRAIN right behind the AXPY that writes what they read.
    if p.colors < 2:
        return
    n = vec_len(tb)
    weights = small_ints(rng, (2, n))
    tasks = {0: Task("AXPY", len=n, acc=0, rows=2),
             1: Task("REDUCE", len=n, acc=0, out_color=0)}
    await tb.load(PeProgram(tasks, mem={0: weights.ravel().tolist()}, acc={0: [0] * n}, params=tb.params))
    stream = [Wavelet.half(0, int(f16(2.0)), 1), Wavelet(1, int(f32_bits(0.5))),
              Wavelet.half(0, int(f16(-1.0)), 0), Wavelet(0, Command.DRAIN.value, 1)]
    res = await tb.run(stream)
    w0, w1 = weights.view(np.float16).astype(np.float64)
    after1 = 2.0 * w1
    after2 = after1 - w0
    want = [Wavelet(0, int(f32_bits(0.5 + after1[0])))]
    want += [Wavelet(0, int(b)) for b in f32_bits(after2)]
    assert [w for _, w in res.emitted] == want
    await tb.check_counters()


@cocotb.test()
async def zero_skip(dut):
    """Zero values on a zero-skip color issue nothing and cost at most one cycle (hidden
    entirely behind a busy sequencer); on a color without zero skip they run like others."""
    tb = await start(dut)
    p = tb.params
    if p.colors < 2:
        return
    rng = np.random.default_rng(SEED + 6)
    n, rows = vec_len(tb), 8
    weights = random_fp16(rng, rows * n)
    tasks = {0: Task("AXPY", len=n, mem_a=0, acc=0, rows=rows, zero_skip=True),
             1: Task("AXPY", len=n, mem_a=0, acc=n, rows=rows, zero_skip=False)}
    await tb.load(PeProgram(tasks, mem={0: weights.tolist()}, params=tb.params))
    zero = [0x0000, 0x8000]

    def zeros(color, count):
        return [Wavelet.half(color, zero[k % 2], int(rng.integers(rows))) for k in range(count)]

    # Only zeros on the skip color: at most one cycle each (or the link's rate).
    c1 = (await tb.run(zeros(0, 16))).cycles
    c2 = (await tb.run(zeros(0, 48))).cycles
    assert c2 - c1 <= 32 * link_period(tb), (c1, c2)
    # Zeros between non-zeros: no cost at all while the sequencer is busy (len >= 2).
    nonzero = [Wavelet.half(0, int(f16(1.5)), int(rng.integers(rows))) for _ in range(12)]
    mixed = [w for nz in nonzero for w in [nz] + zeros(0, min(n - 1, 3) if n > 2 else 0)]
    c_nz = (await tb.run(nonzero)).cycles
    c_mixed = (await tb.run(mixed)).cycles
    if link_period(tb) == 1:
        assert c_mixed == c_nz, (c_nz, c_mixed)
    before = dict(tb.model.counters)
    # Without zero skip, zeros issue FMACs like any value.
    await tb.run(zeros(1, 10))
    counters = await tb.check_counters()
    assert counters["fmac_issues"] - before["fmac_issues"] == 10 * n
    assert counters["zeros_skipped"] == 16 + 48 + len(mixed) - len(nonzero)
    assert counters["fmac_issues"] == (len(nonzero) * 2 + 10) * n
    await tb.check_memories(range(rows * n), range(2 * n))


@cocotb.test()
async def no_task(dut):
    """Wavelets (data or control) on a color without a task are accepted, counted and flagged,
    and never block the wavelets behind them."""
    tb = await start(dut)
    p = tb.params
    rng = np.random.default_rng(SEED + 7)
    n = vec_len(tb)
    task_color = p.colors - 1
    weights = small_ints(rng, (2, n))
    await tb.load(PeProgram({task_color: Task("AXPY", len=n, rows=2)}, mem={0: weights.ravel().tolist()}, acc={0: [0] * n}, params=tb.params))
    assert not int(dut.no_task_seen.value)
    stray = [Wavelet(c, 0x5555, k % 2) for k, c in enumerate(rng.integers(0, p.colors, 40))
             if c != task_color]
    stream = [Wavelet.half(task_color, int(f16(1.0)), 1)] + stray \
        + [Wavelet.half(task_color, int(f16(2.0)), 0)]
    res = await tb.run(stream, Backpressure(SEED, p.colors, ports=2, pause_rate=0.1))
    assert len(res.accepted) == len(stream)
    counters = await tb.check_counters()
    assert counters["no_task"] == len(stray) and counters["errors"] == 0
    assert int(dut.no_task_seen.value) == (len(stray) > 0)
    want = weights[1].view(np.float16).astype(np.float64) + 2.0 * weights[0].view(np.float16)
    assert await tb.peek(Target.ACC, range(n)) == f32_bits(want).tolist()


@cocotb.test()
async def errors(dut):
    """Wavelets that would address outside mem or acc, tasks with a bad length, an undefined
    op or an output color out of range: each wavelet counted once in ``errors``, and nothing
    written; the wavelets just inside the limits run."""
    tb = await start(dut)
    p = tb.params
    n, rows = vec_len(tb, 4), 4
    # Blocks that end exactly at the end of the memories.
    mem_a, acc = p.mem_words - rows * n, p.acc_words - 2 * n
    cases = [
        (Task("AXPY", len=n, mem_a=mem_a, acc=acc, rows=rows),
         [rows - 1], [rows]),                                   # mem_a + idx*len + len
        (Task("MAC", len=n, mem_a=mem_a, acc=acc, rows=2, cols=rows, jbits=2),
         [1 << 2 | 3], [2 << 2 | 0]),                           # acc + i*len + len
        (Task("GRAD", len=n, mem_a=mem_a, mem_b=mem_a, rows=rows, cols=rows, jbits=2),
         [3 << 2 | 3], [4 << 2 | 0]),                           # mem_b + i*len + len
        (Task("STORE", mem_a=mem_a, rows=rows * n),
         [rows * n - 1], [rows * n]),                           # mem_a + idx
    ]
    expected = 0
    for task, good, bad in cases:
        await tb.load(PeProgram({0: task}, params=tb.params))
        before = tb.model.counters["errors"]
        await tb.run([Wavelet.half(0, 0x3C00, i) for i in good + bad])
        assert tb.model.counters["errors"] - before == len(bad), task
        expected += len(bad)
    # Raw table rows that the Python side rejects; each gets a data and a DRAIN wavelet.
    raw = [({"op": Op.AXPY, "len": 0}, 2),                     # length 0: both rejected
           ({"op": Op.REDUCE, "len": 1, "out_color": p.colors}, 2),     # color: both
           ({"op": Op.NONE, "len": 1, "undefined_op": 7}, 1)]   # undefined op: data only
    if p.max_len < 0xFFFF:
        raw.append(({"op": Op.AXPY, "len": p.max_len + 1}, 2))
    for fields, count in raw:
        fields = dict(fields)
        undefined = fields.pop("undefined_op", 0)
        op_offset = dict(TaskEntry.as_shape())["op"].offset
        entry = TaskEntry.const(fields).as_bits() | undefined << op_offset
        await tb.configure([(Target.TASK, 0, entry & (2 ** 64 - 1)),
                            (Target.TASK, 1, entry >> 64)])
        before = tb.model.counters["errors"]
        await tb.run([Wavelet.half(0, 0x3C00, 0), Wavelet(0, Command.DRAIN.value, 1)])
        assert tb.model.counters["errors"] - before == count, fields
        expected += count
    counters = await tb.check_counters()
    assert counters["errors"] == expected
    await tb.check_memories()


async def _random_problem(tb, problem, acc_used, backpressure):
    """Load a problem (accumulators ``0..acc_used-1`` zeroed), add a sparse ReLU drain task of
    ``acc_used`` words on the next color, stream the problem and a DRAIN under
    ``backpressure``."""
    p = tb.params
    color = next(iter(problem.program.tasks))
    drain_color = (color + 1) % p.colors
    tasks = dict(problem.program.tasks)
    if drain_color != color:
        tasks[drain_color] = Task("REDUCE", len=acc_used, acc=0, out_color=color,
                                  sparse_out=True, relu=True, index_base=7)
    program = PeProgram(tasks, mem={a: [v] for a, v in problem.program.mem.items()},
                        acc={0: [0] * acc_used}, params=tb.params)
    await tb.load(program)
    stream = list(problem.wavelets) + [Wavelet(drain_color, Command.DRAIN.value, 1)]
    return await tb.run(stream, backpressure)


@cocotb.test()
async def random_sparse(dut):
    """AXPY and MAC at densities 1.0, 0.5, 0.1 and 0.01 with zero skip, random input gaps and
    random output backpressure; a sparse ReLU drain at the end; whole memories compared.
    Vector lengths vary so that short ones (below the hazard distance) stall on their
    accumulators while wavelets and results are held up at both ends."""
    tb = await start(dut)
    p = pd = tb.params
    rng = np.random.default_rng(SEED + 8)
    axpy_lens, mac_lens = (8, 2, 5, 8), (3, 8, 1, 4)
    for k, density in enumerate((1.0, 0.5, 0.1, 0.01)):
        n = vec_len(tb, axpy_lens[k])
        bp = Backpressure(SEED * 10 + k, p.colors, ports=2, pause_rate=0.3, stall_rate=0.3)
        rows = max(1, min(64 * SCALE, p.mem_words // n))
        prob = axpy_problem(rng, pd, color=0, length=n, rows=rows, density=density,
                            special_rate=0.02)
        before = dict(tb.model.counters)
        await _random_problem(tb, prob, n, bp)
        nonzero = sum(1 for w in prob.wavelets if w.value & 0x7FFF)
        assert tb.model.counters["fmac_issues"] - before["fmac_issues"] == nonzero * n
        assert tb.model.counters["zeros_skipped"] - before["zeros_skipped"] == \
            len(prob.wavelets) - nonzero
        await tb.check_memories(range(rows * n), range(n))

        n = vec_len(tb, mac_lens[k])
        cols = min(16, p.mem_words // n)
        mrows = max(1, min(8 * SCALE, p.acc_words // n, p.max_len // n))
        prob = mac_problem(rng, pd, color=p.colors - 1, length=n, rows=mrows, cols=cols,
                           density=density, jbits=4, special_rate=0.02)
        bp = Backpressure(SEED * 10 + k + 5, p.colors, ports=2, pause_rate=0.3, stall_rate=0.3)
        await _random_problem(tb, prob, mrows * n, bp)
        await tb.check_memories(range(cols * n), range(mrows * n))
    await tb.check_memories()
    await tb.check_counters()


@cocotb.test()
async def utilization(dut):
    """Streamed MAC with weights arriving back to back: FMAC issues in >= 95 % of the cycles
    for len 8, 16 and 32, and the model's prediction of the cycle count is exact."""
    tb = await start(dut)
    p = tb.params
    rng = np.random.default_rng(SEED + 9)
    report = {}
    for n in (8, 16, 32):
        if n > p.max_len:
            continue
        rows, cols, jbits = max(1, min(8, p.acc_words // n)), min(16, p.mem_words // n), 4
        count = 2048 // n * SCALE
        prob = mac_problem(rng, tb.params, color=0, length=n, rows=rows, cols=cols,
                           density=1.0, jbits=jbits, send_zeros=0.0)
        stream = [prob.wavelets[k % len(prob.wavelets)] for k in range(count)]
        await tb.load(prob.program)
        before = dict(tb.model.counters)
        # The model alone, fresh, predicts the run before the RTL does it.
        predictor = PeModel(tb.params)
        for write in prob.program.config_writes():
            predictor.configure(*write)
        predicted, _ = simulate_pe(predictor, stream)
        res = await tb.run(stream)
        issues = tb.model.counters["fmac_issues"] - before["fmac_issues"]
        busy = tb.model.counters["busy_cycles"] - before["busy_cycles"]
        assert issues == count * n
        util = issues / res.cycles
        report[n] = {"wavelets": count, "cycles": res.cycles, "predicted": predicted,
                     "busy": busy, "fmac_issues": issues, "utilization": util}
        dut._log.info(f"MAC len {n}: {issues} FMAC issues in {res.cycles} cycles "
                      f"({100 * util:.2f} %), model predicted {predicted}")
        assert predicted == res.cycles
        assert util >= 0.95, f"len {n}: utilization {util:.3f}"
    await tb.check_counters()
    if RESULTS:
        Path(RESULTS).write_text(json.dumps(report, indent=1))


async def _rate(tb, program, stream):
    """Load ``program``, run ``stream`` back to back; FMAC issues per busy cycle, from the
    RTL's own counters."""
    await tb.load(program)
    before = tb.read_counters()
    await tb.run(stream)
    after = tb.read_counters()
    issues = after["fmac_issues"] - before["fmac_issues"]
    return issues / (after["busy_cycles"] - before["busy_cycles"]), issues


@cocotb.test()
async def accumulation_rate(dut):
    """Dot products and MACs into one accumulator sustain >= 0.9 FMAC per cycle: GRAD streams
    of len 4, 8 and 64 (groups of GRAD_GROUP jobs issue round-robin) and len-4 AXPY and MAC
    into one accumulator row (the adder's result is forwarded to its input)."""
    tb = await start(dut)
    p = tb.params
    rng = np.random.default_rng(SEED + 10)
    report = {}
    for n in (4, 8, 64):
        rows, cols, jbits = 2, 4, 2
        if n > p.max_len or (rows + cols) * n > p.mem_words:
            continue
        task = Task("GRAD", len=n, mem_a=0, mem_b=cols * n, rows=rows, cols=cols, jbits=jbits)
        program = PeProgram({0: task}, mem={0: small_ints(rng, (rows + cols) * n).tolist()},
                            params=tb.params)
        count = max(16, 1024 // n)
        stream = [Wavelet.half(0, 0, int(rng.integers(rows)) << jbits | int(rng.integers(cols)))
                  for _ in range(count)]
        rate, issues = await _rate(tb, program, stream)
        assert issues == count * n
        report[f"GRAD len {n}"] = rate
        # Every job holds an output credit from its first element to its result's departure:
        # a shallow output FIFO makes groups wait for credits.
        if p.out_depth >= OUTPUT_ROUND_TRIP:
            assert rate >= 0.9, f"GRAD len {n}: {rate:.3f} FMAC/cycle"
    n = 4
    if n <= p.max_len and p.acc_words >= 2 * n and p.mem_words >= 4 * n:
        weights = small_ints(rng, (4, n))
        for op, task, index in (
                ("AXPY", Task("AXPY", len=n, rows=4), lambda k: k % 4),
                ("MAC", Task("MAC", len=n, rows=2, cols=4, jbits=2), lambda k: 4 | k % 4)):
            program = PeProgram({0: task}, mem={0: weights.ravel().tolist()},
                                acc={0: [0] * (2 * n)}, params=tb.params)
            stream = [Wavelet.half(0, int(f16(1.0)), index(k)) for k in range(256)]
            rate, _ = await _rate(tb, program, stream)
            report[f"{op} len {n}"] = rate
            assert rate >= 0.9, f"{op} len {n}: {rate:.3f} FMAC/cycle"
    dut._log.info(f"FMAC per cycle: {report}")
    await tb.check_counters()


@cocotb.test()
async def decode_rate(dut):
    """One-element jobs and drops decode at one wavelet per cycle: 40 more wavelets cost 40
    more cycles (40 output credit round trips where each one sends a result through a one-deep
    output FIFO: its credit comes back only when the result has left)."""
    tb = await start(dut)
    p = tb.params
    if p.in_depth < 2 or p.mem_words < 64 or p.acc_words < 16:
        return
    out_period = {1: OUTPUT_ROUND_TRIP}.get(p.out_depth, 1)
    if 1 < p.out_depth < OUTPUT_ROUND_TRIP:
        return          # results at out_depth per round trip: no whole period per wavelet
    cases = {
        "STORE": (Task("STORE", rows=64), 1),
        "REDUCE": (Task("REDUCE", len=1, acc=0), out_period),
        "MAC": (Task("MAC", len=1, rows=16, cols=4, jbits=2), 1),
        "GRAD": (Task("GRAD", len=1, mem_b=16, rows=16, cols=4, jbits=2), out_period),
        "zero skip": (Task("AXPY", len=1, rows=64, zero_skip=True), 1),
    }
    for name, (task, period) in cases.items():
        program = PeProgram({0: task}, params=tb.params)
        value = 0 if name == "zero skip" else int(f16(1.0))
        # MAC: a new output row every wavelet, so no accumulator is reused too soon.
        cycles = []
        for count in (10, 50):
            stream = [Wavelet.half(0, value, (k % 16) << 2 | k % 4) for k in range(count)]
            cycles.append(await _timed(tb, program, stream))
        assert cycles[1] - cycles[0] == 40 * period, f"{name}: {cycles}"
    await tb.check_counters()
