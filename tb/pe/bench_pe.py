"""cocotb benchmarks of the PE: weight sparsity (streamed MAC) and activation sparsity (AXPY).

Run through ``python -m wafer_engine.tb.bench.pe``, which formats docs/results.md; each test adds its rows
to the JSON file named in ``WAFER_TB_PARAMS["results"]``.

Programs and memories are loaded in lockstep with the model (:class:`wafer_engine.tb.pe.tb.PeTB`), but the
measured runs drive the RTL's pins alone: cycle counts come from the RTL's ``i.ready`` and
``idle``, and issue counts from its counter ports. Before each run a fresh golden model
predicts the cycle count from the same program and stream; the prediction is recorded, not
enforced, so a wrong prediction shows up as an error in the table instead of stopping the run.
After each run the model executes the stream functionally and the accumulators are peeked and
compared with it, so every measured run also computed the right result.
"""

import json
import os

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, ReadOnly

from wafer_engine.fabric.model.pe_model import InOrderSender, PeModel, simulate_pe
from wafer_engine.fabric.program.pe_task import PeProgram, Task
from wafer_engine.fabric.model.wavelet import Wavelet

from wafer_engine.tb.bench.results import record
from wafer_engine.tb.pe.tb import PeTB
from wafer_engine.tb.pe.workloads import random_fp16

PARAMS = json.loads(os.environ.get("WAFER_TB_PARAMS", "{}"))
PE = {k: PARAMS[k] for k in ("colors", "mem_words", "acc_words", "max_len", "in_depth",
                             "out_depth") if k in PARAMS}
SEED = PARAMS.get("seed", 1)
#: Streamed-MAC layer: ROWS x COLS weights w[i][j], local vectors of BATCH elements.
ROWS, COLS, BATCH = PARAMS.get("rows", 64), PARAMS.get("cols", 64), PARAMS.get("batch", 16)
SPARSITIES = PARAMS.get("sparsities", [0.0, 0.5, 0.75, 0.9, 0.95, 0.99])
#: AXPY: AXPY_ROWS resident weight rows of BATCH elements, one activation per row.
AXPY_ROWS = PARAMS.get("axpy_rows", 256)
DENSITIES = PARAMS.get("densities", [1.0, 0.5, 0.1])
#: Activation-sparsity modes: (name, zeros sent, zero_skip).
MODES = (("zeros never sent", False, True), ("dense, zero_skip on", True, True),
         ("dense, zero_skip off", True, False))


def nonzero_fp16(rng, n):
    """``n`` random fp16 patterns, none of them +0 or -0 (only the masks make zeros)."""
    values = random_fp16(rng, n)
    values[values & 0x7FFF == 0] = 0x3C00
    return values


def with_zeros(rng, values, zeros):
    """A copy of ``values`` with exactly ``zeros`` positions, chosen at random, set to +0 or
    -0 (both are zeros to the PE)."""
    out = values.copy()
    where = rng.choice(len(out), zeros, replace=False)
    out[where] = rng.choice(np.array([0x0000, 0x8000], dtype=np.uint16), zeros)
    return out


async def rtl_run(tb, wavelets):
    """Send ``wavelets`` back to back into the RTL alone (output always ready) and clock until
    all are taken and ``idle`` is 1. Returns ``(cycles, counter deltas)``: cycle 0 offers the
    first wavelet, ``cycles`` is the first cycle with nothing left and the PE idle (as
    :func:`wafer_engine.fabric.model.pe_model.simulate_pe` counts)."""
    dut = tb.dut
    sender = InOrderSender(wavelets)
    before, n = None, 0
    while True:
        await FallingEdge(dut.clk)
        ready = int(tb.i.ready.value)
        w = sender.offer()
        tb.i.valid.value = int(w is not None)
        if w is not None:
            tb.i.wavelet.value = w.to_bits()
        tb.o.ready.value = tb.all_colors
        dut.cfg__valid.value = 0    # the pins hold their last value: stop repeating a write
        await ReadOnly()
        if before is None:
            before = tb.read_counters()
        if not sender.pending and int(dut.idle.value):
            break
        sender.commit(ready)
        n += 1
    after = tb.read_counters()
    return n, {k: (after[k] - before[k]) % (1 << 32) for k in after}


def predict(program, wavelets):
    """Cycles the golden model predicts for ``wavelets`` on a fresh PE loaded with
    ``program`` (back to back, output always ready)."""
    model = PeModel(program.params)
    for write in program.config_writes():
        model.configure(*write)
    return simulate_pe(model, wavelets)[0]


async def measure(tb, program, wavelets, acc_words):
    """Load ``program``, predict, run on the RTL, check the first ``acc_words`` accumulators
    against the model; returns the row for the results file."""
    await tb.load(program)
    predicted = predict(program, wavelets)
    cycles, counters = await rtl_run(tb, wavelets)
    for w in wavelets:
        tb.model.process(w)
    await tb.check_memories(mem_range=range(0), acc_range=range(acc_words))
    assert counters["wavelets_in"] == len(wavelets), counters
    assert counters["wavelets_out"] == 0 and counters["errors"] == 0, counters
    return {"cycles": cycles, "predicted": predicted, "busy": counters["busy_cycles"],
            "fmac_issues": counters["fmac_issues"], "zeros_skipped": counters["zeros_skipped"],
            "wavelets": len(wavelets)}


@cocotb.test()
async def weight_sparsity(dut):
    """Streamed MAC, activations resident, only the non-zero weights sent (row by row, as
    the host streams a matrix): cycles per sparsity level."""
    tb = PeTB(dut, PE)
    await tb.reset()
    rng = np.random.default_rng(SEED)
    jbits = (COLS - 1).bit_length()
    x = nonzero_fp16(rng, COLS * BATCH)
    dense = nonzero_fp16(rng, ROWS * COLS)
    task = Task("MAC", len=BATCH, rows=ROWS, cols=COLS, jbits=jbits, zero_skip=True)
    rows = []
    for s in SPARSITIES:
        w = with_zeros(rng, dense, round(s * ROWS * COLS))
        stream = [Wavelet.half(0, int(w[f]), (f // COLS) << jbits | f % COLS)
                  for f in range(ROWS * COLS) if w[f] & 0x7FFF]
        program = PeProgram({0: task}, mem={0: x.tolist()}, acc={0: [0] * (ROWS * BATCH)},
                            params=tb.params)
        r = await measure(tb, program, stream, ROWS * BATCH)
        assert r["fmac_issues"] == len(stream) * BATCH, r
        r.update(sparsity=s, nonzeros=len(stream))
        dut._log.info(f"weight sparsity {s}: {r}")
        rows.append(r)
    record(PARAMS["results"], "weight_sparsity",
           {"rows": ROWS, "cols": COLS, "batch": BATCH, "runs": rows})


@cocotb.test()
async def activation_sparsity(dut):
    """AXPY, weights resident, activations streamed as (value, index) in index order, at each
    density: zeros never sent, a dense stream with zero skip, a dense stream without."""
    tb = PeTB(dut, PE)
    await tb.reset()
    rng = np.random.default_rng(SEED + 1)
    weights = nonzero_fp16(rng, AXPY_ROWS * BATCH)
    rows = []
    for d in DENSITIES:
        x = with_zeros(rng, nonzero_fp16(rng, AXPY_ROWS), round((1 - d) * AXPY_ROWS))
        nonzeros = int(np.count_nonzero(x & 0x7FFF))
        for mode, send_zeros, zero_skip in MODES:
            task = Task("AXPY", len=BATCH, rows=AXPY_ROWS, zero_skip=zero_skip)
            stream = [Wavelet.half(0, int(x[k]), k) for k in range(AXPY_ROWS)
                      if send_zeros or x[k] & 0x7FFF]
            program = PeProgram({0: task}, mem={0: weights.tolist()}, acc={0: [0] * BATCH},
                                params=tb.params)
            r = await measure(tb, program, stream, BATCH)
            issued = nonzeros if zero_skip else len(stream)
            assert r["fmac_issues"] == issued * BATCH, r
            assert r["zeros_skipped"] == (len(stream) - nonzeros if zero_skip else 0), r
            r.update(density=d, mode=mode, nonzeros=nonzeros)
            dut._log.info(f"activation density {d}, {mode}: {r}")
            rows.append(r)
    record(PARAMS["results"], "activation_sparsity",
           {"rows": AXPY_ROWS, "batch": BATCH, "runs": rows})
