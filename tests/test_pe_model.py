"""The PE's golden model on its own: results against numpy float references, the task table
layout, and properties of the cycle model (costs per op, utilisation, timing never changing
results)."""

import numpy as np
import pytest

from wafer_engine.fabric.model.pe_model import TIMING, PeModel, simulate_pe
from wafer_engine.fabric.program.pe_task import PeProgram, Task
from wafer_engine.fabric.model.traffic import Backpressure
from wafer_engine.fabric.model.wavelet import Wavelet
from wafer_engine.rtl.pe.ports import Target
from wafer_engine.rtl.pe.task import Command
from wafer_engine.tb.pe.workloads import axpy_problem, mac_problem, random_fp16, small_ints
from wafer_engine.rtl.params import PeParams

DENSITIES = [1.0, 0.5, 0.1, 0.01]


def loaded(program):
    model = PeModel(program.params)
    for write in program.config_writes():
        model.configure(*write)
    return model


def as_f64(bits16):
    return np.asarray(bits16, dtype=np.uint16).view(np.float16).astype(np.float64)


def as_f32(bits32):
    return np.asarray(bits32, dtype=np.uint32).view(np.float32).astype(np.float64)


def f32_bits(x):
    return np.asarray(x, dtype=np.float32).view(np.uint32)


def assert_close_fp16(got, want, magnitude):
    """``got`` within fp16 precision (2**-11 relative) of ``want``, relative to the sum of the
    magnitudes of the terms that formed it."""
    tol = 2.0 ** -11 * magnitude + 2.0 ** -24
    bad = np.abs(got - want) > tol
    assert not bad.any(), f"{bad.sum()} values off, first: {got[bad][:3]} vs {want[bad][:3]}"


def test_task_entry_bit_positions():
    """The table row layout of docs/pe.md, computed by hand."""
    task = Task("MAC", len=8, mem_a=1, mem_b=2, acc=3, index_base=4, out_color=5, jbits=6,
                zero_skip=True, relu=True, sparse_out=True)
    want = (1 | 2 << 16 | 3 << 32 | 4 << 48 | 3 << 64 | 1 << 67 | 1 << 68 | 1 << 69
            | 5 << 70 | 6 << 75 | 8 << 79)
    assert task.entry() == want
    assert task.words() == [want & (2 ** 64 - 1), want >> 64]
    back = Task.from_entry(want)
    assert (back.op.name, back.len, back.jbits, back.out_color, back.zero_skip) == \
        ("MAC", 8, 6, 5, 1)


def test_program_loads_through_config_writes():
    tasks = {0: Task("AXPY", len=4, rows=2), 3: Task("REDUCE", len=3, acc=100, out_color=1)}
    program = PeProgram(tasks, mem={10: [1, 2]}, acc={7: [0xDEADBEEF]})
    model = loaded(program)
    for color, task in program.tasks.items():
        assert [model.peek(Target.TASK, 2 * color + w) for w in (0, 1)] == task.words()
    assert model.peek(Target.MEM, 11) == 2 and model.peek(Target.ACC, 7) == 0xDEADBEEF
    assert model.peek(Target.MEM, 4096) == 0 and model.peek(Target.TASK, 8) == 0


@pytest.mark.parametrize("density", DENSITIES)
def test_axpy_matches_numpy(density):
    rng = np.random.default_rng(int(density * 1000))
    n, rows = 16, 200
    params = PeModel().params
    prob = axpy_problem(rng, params, color=2, length=n, rows=rows, density=density)
    model = loaded(prob.program)
    for w in prob.wavelets:
        assert model.process(w) == []
    weights = as_f64(prob.data["weights"]).reshape(rows, n)
    x = as_f64(prob.data["x"])
    terms = x[:, None] * weights
    assert_close_fp16(as_f32(model.acc[:n]), terms.sum(axis=0), np.abs(terms).sum(axis=0))
    nonzero = sum(1 for w in prob.wavelets if w.value & 0x7FFF)
    assert model.counters["fmac_issues"] == nonzero * n
    assert model.counters["zeros_skipped"] == len(prob.wavelets) - nonzero


@pytest.mark.parametrize("density", DENSITIES)
def test_mac_matches_numpy(density):
    rng = np.random.default_rng(int(density * 1000) + 1)
    n, rows, cols, jbits = 8, 12, 100, 7
    prob = mac_problem(rng, PeModel().params, color=0, length=n, rows=rows, cols=cols,
                       density=density, jbits=jbits, mem_a=64, acc=32)
    model = loaded(prob.program)
    for w in prob.wavelets:
        model.process(w)
    x = as_f64(prob.data["x"]).reshape(cols, n)
    w = as_f64(prob.data["w"])
    terms = np.abs(w) @ np.abs(x)
    got = as_f32(model.acc[32:32 + rows * n]).reshape(rows, n)
    assert_close_fp16(got, w @ x, terms)


def test_grad_is_a_sequential_fp32_sum():
    """Each GRAD output is sum_b y[i][b] * x[j][b] added in b order, rounding after every add
    (numpy float32 does the same for normal values: the fp16 products are exact in float32)."""
    rng = np.random.default_rng(5)
    n, rows, cols, jbits = 24, 5, 7, 3
    x, y = random_fp16(rng, cols * n), random_fp16(rng, rows * n)
    task = Task("GRAD", len=n, mem_a=0, mem_b=500, rows=rows, cols=cols, jbits=jbits,
                out_color=3)
    model = loaded(PeProgram({1: task}, mem={0: x.tolist(), 500: y.tolist()}))
    xf, yf = as_f64(x).reshape(cols, n), as_f64(y).reshape(rows, n)
    for i in range(rows):
        for j in range(cols):
            (out,) = model.process(Wavelet.half(1, 0, i << jbits | j))
            s = np.float32(0)
            for b in range(n):
                s = np.float32(s + np.float32(yf[i, b]) * np.float32(xf[j, b]))
            assert out == Wavelet(3, int(f32_bits(s)))
            assert_close_fp16(as_f32([out.payload]), np.array([yf[i] @ xf[j]]),
                              np.array([np.abs(yf[i]) @ np.abs(xf[j])]))


def test_reduce_chain_with_sparse_relu_at_the_end():
    """A row of PEs: the first drains its partial sums (dense fp32), each next one adds its
    own (REDUCE), the last applies ReLU and sends only the non-zero fp16 results."""
    rng = np.random.default_rng(7)
    n, pes = 32, 5
    partials = rng.standard_normal((pes, n)).astype(np.float32)
    partials[:, :4] = 0                         # some outputs are exactly zero
    models = []
    for k in range(pes):
        last = k == pes - 1
        task = Task("REDUCE", len=n, acc=10, out_color=1, sparse_out=last, relu=last,
                    index_base=1000)
        models.append(loaded(PeProgram({0: task}, acc={10: f32_bits(partials[k]).tolist()})))
    stream = models[0].process(Wavelet(0, Command.DRAIN.value, 1))
    assert [w.payload for w in stream] == f32_bits(partials[0]).tolist()
    for model in models[1:]:
        stream = [out for w in stream for out in model.process(Wavelet(0, w.payload))]
    want = np.maximum(partials.astype(np.float64).sum(axis=0), 0)
    nonzero = np.flatnonzero(want.astype(np.float16))
    assert [w.index for w in stream] == (1000 + nonzero).tolist()
    assert_close_fp16(as_f64([w.value for w in stream]), want[nonzero],
                      np.abs(partials).sum(axis=0)[nonzero] + np.abs(want[nonzero]))
    assert all(w.color == 1 and w.control == 0 for w in stream)


def test_drain_and_clear():
    acc = f32_bits([1.0, -2.0, 0.0, 3.5, -0.0, 70000.0])
    task = Task("AXPY", len=6, acc=2, index_base=40, sparse_out=True, relu=True, rows=1)
    model = loaded(PeProgram({0: task}, acc={2: acc.tolist()}))
    out = model.process(Wavelet(0, Command.DRAIN_CLEAR.value, 1))
    # ReLU drops the negatives and zeros; 70000 is beyond fp16: inf.
    assert out == [Wavelet.half(0, 0x3C00, 40), Wavelet.half(0, 0x4300, 43),
                   Wavelet.half(0, 0x7C00, 45)]
    assert model.acc[2:8].tolist() == [0] * 6
    assert model.process(Wavelet(0, Command.DRAIN.value, 1)) == []
    assert model.process(Wavelet(0, 7, 1)) == [] and model.counters["errors"] == 1


def test_zero_skip_saves_work_not_results():
    """With finite weights, x + (+-0) = x and +0 + (+-0) = +0, so skipping zeros cannot change
    an accumulator that started at +0."""
    params = PeModel().params
    results = {}
    for skip in (False, True):
        # The same seed gives the same problem; only the task's zero_skip differs.
        prob = axpy_problem(np.random.default_rng(3), params, color=0, length=8, rows=300,
                            density=0.3, zero_skip=skip, send_zeros=1.0)
        model = loaded(prob.program)
        for w in prob.wavelets:
            model.process(w)
        results[skip] = (model.acc.copy(), dict(model.counters))
    zeros = sum(1 for w in prob.wavelets if not w.value & 0x7FFF)
    assert zeros > 100
    assert np.array_equal(results[False][0], results[True][0])
    assert results[False][1]["fmac_issues"] - results[True][1]["fmac_issues"] == 8 * zeros
    assert results[True][1]["zeros_skipped"] == zeros
    assert results[False][1]["zeros_skipped"] == 0


def test_no_task_and_errors():
    model = loaded(PeProgram({1: Task("STORE", mem_a=4000, rows=96)}))
    model.process(Wavelet.half(0, 1, 1))            # no task
    model.process(Wavelet(2, 1, 1))                 # control on a no-task color
    model.process(Wavelet.half(1, 5, 95))           # last word of mem
    model.process(Wavelet.half(1, 5, 96))           # one past: error
    assert model.counters["no_task"] == 2 and model.no_task_seen
    assert model.counters["errors"] == 1
    assert model.mem[4095] == 5


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_timing_never_changes_results(seed):
    """The cycle-exact run under random input gaps and output backpressure emits the same
    wavelets and leaves the same memories and counters as the functional run."""
    rng = np.random.default_rng(seed)
    params = PeModel(PeParams(out_depth=2)).params
    prob = mac_problem(rng, params, color=1, length=3, rows=6, cols=20, density=0.4,
                       jbits=5, special_rate=0.05)
    tasks = dict(prob.program.tasks)
    tasks[2] = Task("REDUCE", len=18, acc=0, out_color=0, sparse_out=True, relu=True)
    program = PeProgram(tasks, mem={a: [v] for a, v in prob.program.mem.items()},
                        params=PeParams(out_depth=2))
    stream = prob.wavelets + [Wavelet(2, int(f32_bits(0.25))), Wavelet(2, 3, 1),
                              Wavelet(3, 0, 0)]
    functional = loaded(program)
    want = [out for w in stream for out in functional.process(w)]
    timed = loaded(program)
    bp = Backpressure(seed, params.colors, ports=2, pause_rate=0.4, stall_rate=0.5)
    cycles, emitted = simulate_pe(timed, stream, bp)
    assert [w for _, w in emitted] == want
    assert np.array_equal(timed.mem, functional.mem)
    assert np.array_equal(timed.acc, functional.acc)
    for name in ("fmac_issues", "zeros_skipped", "no_task", "errors"):
        assert timed.counters[name] == functional.counters[name], name
    assert timed.counters["wavelets_in"] == len(stream)
    assert timed.counters["wavelets_out"] == len(want)
    assert timed.counters["busy_cycles"] + timed.counters["idle_cycles"] == cycles
    fast, _ = simulate_pe(loaded(program), stream)
    assert fast <= cycles       # gaps and backpressure never make it faster


def _cycles(program, stream, backpressure=None):
    return simulate_pe(loaded(program), stream, backpressure)[0]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 8, 13])
def test_accumulation_hazard_costs(n):
    """AXPY wavelets all accumulate into the same row: each costs max(len, 4) cycles (the
    adder's latency; its result is forwarded to its input)."""
    program = PeProgram({0: Task("AXPY", len=n, rows=4)})
    streams = [[Wavelet.half(0, 0x3C00, k % 4) for k in range(count)] for count in (10, 30)]
    c10, c30 = (_cycles(program, s) for s in streams)
    assert c30 - c10 == 20 * max(n, 4)


@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_grad_costs(n):
    """GRAD wavelets of one color back to back: groups of four jobs issue round-robin, one
    product per cycle, so each wavelet costs len cycles."""
    program = PeProgram({0: Task("GRAD", len=n, mem_b=64, rows=4, cols=4, jbits=2)})
    streams = [[Wavelet.half(0, 0, k % 16) for k in range(count)] for count in (10, 30)]
    c10, c30 = (_cycles(program, s) for s in streams)
    assert c30 - c10 == 20 * n


@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_lone_grad_costs(n):
    """A GRAD job alone (the next wavelet is on another color) issues one element every
    4 cycles (each add needs the previous sum), the last element's waits skipped."""
    program = PeProgram({0: Task("GRAD", len=n, mem_b=64, rows=4, cols=4, jbits=2),
                         1: Task("GRAD", len=n, mem_b=64, rows=4, cols=4, jbits=2)})
    streams = [[Wavelet.half(k % 2, 0, k % 16) for k in range(count)] for count in (10, 30)]
    c10, c30 = (_cycles(program, s) for s in streams)
    assert c30 - c10 == 20 * (4 * (n - 1) + 1)


def _rate(program, stream):
    """FMAC issues per busy cycle of a back-to-back run of ``stream``, from the counters."""
    model = loaded(program)
    simulate_pe(model, stream)
    return model.counters["fmac_issues"] / model.counters["busy_cycles"]


@pytest.mark.parametrize("n", [1, 2, 4, 8, 64])
def test_grad_stream_rate(n):
    """A stream of GRAD wavelets (4096 products) sustains at least 0.9 FMAC per cycle."""
    rows, cols, jbits = 4, 8, 3
    program = PeProgram({0: Task("GRAD", len=n, mem_a=0, mem_b=cols * n, rows=rows,
                                 cols=cols, jbits=jbits)})
    stream = [Wavelet.half(0, 0, (k % rows) << jbits | k % cols) for k in range(4096 // n)]
    assert _rate(program, stream) >= 0.9


@pytest.mark.parametrize("op", ["AXPY", "MAC"])
def test_short_accumulation_rate(op):
    """Length-4 vectors into one accumulator row back to back (1024 wavelets) sustain at
    least 0.9 FMAC per cycle; at length 3 the hazard stall makes that impossible."""
    for n, fast in ((4, True), (3, False)):
        task = (Task("AXPY", len=n, rows=4) if op == "AXPY"
                else Task("MAC", len=n, rows=2, cols=4, jbits=2))
        index = (lambda k: k % 4) if op == "AXPY" else (lambda k: 1 << 2 | k % 4)
        stream = [Wavelet.half(0, 0x3C00, index(k)) for k in range(1024)]
        assert (_rate(PeProgram({0: task}), stream) >= 0.9) == fast, n


@pytest.mark.parametrize("kind", ["STORE", "REDUCE", "MAC", "GRAD", "zero", "no_task"])
def test_one_element_wavelets_decode_one_per_cycle(kind):
    """One-element jobs (and drops) stream at one wavelet per cycle: decode has no bubble."""
    tasks = {"STORE": Task("STORE", rows=64), "REDUCE": Task("REDUCE", len=1),
             "MAC": Task("MAC", len=1, rows=16, cols=4, jbits=2),
             "GRAD": Task("GRAD", len=1, mem_b=16, rows=16, cols=4, jbits=2),
             "zero": Task("AXPY", len=8, rows=16, zero_skip=True), "no_task": None}
    program = PeProgram({} if tasks[kind] is None else {0: tasks[kind]})
    value = 0 if kind == "zero" else 0x3C00
    # MAC: a new output row (i) every wavelet, so no accumulator is reused too soon.
    streams = [[Wavelet.half(0, value, (k % 16) << 2 | k % 4) for k in range(count)]
               for count in (10, 50)]
    c10, c50 = (_cycles(program, s) for s in streams)
    assert c50 - c10 == 40


@pytest.mark.parametrize("n", [8, 16, 32])
def test_streamed_mac_utilisation(n):
    """Weights back to back: after a fixed fill latency, one FMAC every cycle."""
    rng = np.random.default_rng(n)
    prob = mac_problem(rng, PeModel().params, color=0, length=n, rows=8, cols=16, density=1.0,
                       jbits=4, send_zeros=0.0)
    model = loaded(prob.program)
    cycles, _ = simulate_pe(model, prob.wavelets)
    issues = model.counters["fmac_issues"]
    assert issues == len(prob.wavelets) * n
    assert issues / cycles >= 0.95
    # Fill and drain: input FIFO, decode stages F, P and X, sequencer load, 11 pipeline stages.
    assert cycles == issues + 16


def test_zero_wavelets_cost_one_cycle():
    program = PeProgram({0: Task("MAC", len=8, rows=1, cols=1, zero_skip=True)})
    zeros = [[Wavelet.half(0, 0x8000 * (k % 2), 0) for k in range(count)] for count in (10, 50)]
    c10, c50 = (_cycles(program, s) for s in zeros)
    assert c50 - c10 == 40
    # Behind a busy sequencer they cost nothing.
    dense = [Wavelet.half(0, 0x3C00, 0)] * 10
    mixed = [w for d in dense for w in (d, Wavelet.half(0, 0, 0), Wavelet.half(0, 0, 0))]
    assert _cycles(program, mixed) == _cycles(program, dense)


def test_reduce_latency():
    """A lone REDUCE: accepted in cycle 0, its result leaves in cycle 17."""
    model = loaded(PeProgram({0: Task("REDUCE", len=1, out_color=2)}))
    _, emitted = simulate_pe(model, [Wavelet(0, 0x3F800000)])
    assert emitted == [(17, Wavelet(2, 0x3F800000))]


def test_long_mac_stream_issues_one_fmac_per_cycle():
    """A dense MAC stream ten times over (1,280 weights of 16 FMACs: 20,480 cycles of issue)
    runs back to back all the way: it costs its FMACs plus the same fill and drain as a single
    pass (16 cycles), every FMAC is counted, and the PE is busy every cycle but the last."""
    prob = mac_problem(np.random.default_rng(1), PeModel().params, color=0, length=16,
                       rows=8, cols=16, density=1.0, jbits=4, send_zeros=0.0)
    once, _ = simulate_pe(loaded(prob.program), prob.wavelets)
    model = loaded(prob.program)
    cycles, _ = simulate_pe(model, prob.wavelets * 10)
    fmacs = len(prob.wavelets) * 10 * 16
    assert model.counters["fmac_issues"] == fmacs == 20_480
    assert cycles - fmacs == once - len(prob.wavelets) * 16 == 16
    assert model.counters["busy_cycles"] == cycles - 1


def test_small_int_helpers_are_exact():
    rng = np.random.default_rng(0)
    values = small_ints(rng, 100)
    assert np.array_equal(as_f64(values), np.round(as_f64(values)))


def test_model_timing_is_the_rtl_pipeline():
    """The model states its own pipeline timing; it must be the RTL's (a change to either shows
    here before it shows as a lock-step mismatch)."""
    from wafer_engine.rtl.pe import PIPELINE
    assert TIMING == PIPELINE


def _drain_behind_a_full_fifo(blocked):
    """Drain [1.0, 0, 0, 0] (sparse output: the zeros are dropped) from a PE whose one-deep
    output FIFO is taken by nobody for the first ``blocked`` cycles, then by the receiver in
    every cycle. Returns ``(cycles, emitted)``."""
    params = PeParams(out_depth=1)
    task = Task("AXPY", len=4, acc=0, sparse_out=True, rows=1)
    model = loaded(PeProgram({0: task}, acc={0: f32_bits([1.0, 0.0, 0.0, 0.0]).tolist()},
                             params=params))
    model.step(Wavelet(0, Command.DRAIN.value, 1), 1)
    cycle, emitted = 1, []
    while model.busy:
        out = model.step(None, 1 if cycle >= blocked else 0)
        if out is not None:
            emitted.append((cycle, out))
        cycle += 1
    return cycle, emitted


def test_an_output_credit_is_held_until_its_result_leaves_or_is_dropped():
    """An output element issues only with a credit, a place reserved in the output FIFO; the
    credit comes back when the result leaves the FIFO or, for a sparse zero, when it is dropped
    in S11. With a one-deep FIFO, 1.0 holds the only credit until the receiver takes it (cycle
    b); each zero then issues in the cycle after the previous zero's credit came back in S11:
    at b + 1, b + 1 + T and b + 1 + 2T (T = push stage + 1), and the PE is idle once the last
    one has been dropped, from b + 1 + 3T. (Were credits given back at issue or
    never taken, the zeros would be gone long before b; were a dropped zero's credit kept,
    the PE would never finish.)"""
    drop_trip = TIMING["push"] + 1
    for blocked in (60, 90):
        cycles, emitted = _drain_behind_a_full_fifo(blocked)
        assert emitted == [(blocked, Wavelet.half(0, 0x3C00, 0))]
        assert cycles == blocked + 1 + 3 * drop_trip


def test_grad_acc_writes_grad_sum_to_its_slot():
    """GRAD_ACC leaves in acc[acc + value] the bits GRAD sends for the same index (the same
    sum, in the same order), sends nothing, and its slot check is acc + value < acc_words."""
    rng = np.random.default_rng(5)
    n, rows, cols, jbits = 8, 3, 4, 2
    mem = rng.standard_normal(rows * n + cols * n).astype(np.float16).view(np.uint16)
    grad = Task("GRAD", len=n, mem_b=cols * n, rows=rows, cols=cols, jbits=jbits, out_color=2)
    to_acc = Task("GRAD_ACC", len=n, mem_b=cols * n, acc=1000, rows=rows, cols=cols,
                  jbits=jbits, slots=24)
    model = loaded(PeProgram({0: grad, 1: to_acc}, mem={0: mem.tolist()}))
    for slot, (i, j) in enumerate((i, j) for i in range(rows) for j in range(cols)):
        [sent] = model.process(Wavelet.half(0, 0, i << jbits | j))
        assert model.process(Wavelet.half(1, slot, i << jbits | j)) == []
        assert int(model.acc[1000 + slot]) == sent.payload
    assert model.counters["errors"] == 0
    model.process(Wavelet.half(1, 24, 0))       # 1000 + 24 = acc_words
    assert model.counters["errors"] == 1 and model.acc[1000:].tolist() != [0] * 24


@pytest.mark.parametrize("n", [1, 4, 8])
def test_grad_acc_stream_rate(n):
    """GRAD_ACC streams like GRAD (it needs no output credit): 4096 products sustain at least
    0.9 FMAC per cycle at len >= 4, one wavelet per cycle at len 1."""
    rows, cols, jbits = 4, 8, 3
    program = PeProgram({0: Task("GRAD_ACC", len=n, mem_a=0, mem_b=cols * n, rows=rows,
                                 cols=cols, jbits=jbits, slots=64)})
    stream = [Wavelet.half(0, k % 64, (k % rows) << jbits | k % cols) for k in range(4096 // n)]
    assert _rate(program, stream) >= 0.9
