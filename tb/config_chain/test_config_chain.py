"""cocotb tests of the configuration chain, in lockstep with :class:`ConfigChainModel`."""

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from wafer_engine.fabric.model.config_model import ConfigChainModel
from wafer_engine.fabric.program.config_records import ConfigRecord, encode
from wafer_engine.rtl.config_chain import ConfigDest

PARAMS = json.loads(os.environ.get("WAFER_TB_PARAMS", "{}"))
LENGTH = PARAMS.get("length", 3)
SEED = PARAMS.get("seed", 1)


def random_records(rng, count):
    records = []
    for _ in range(count):
        dest = rng.choice(list(ConfigDest))
        bits = 64 if dest in (ConfigDest.ROUTE, ConfigDest.TASK) else 32
        items = tuple(rng.getrandbits(bits) for _ in range(rng.choice([0, 1, 1, 2, 5])))
        records.append(ConfigRecord(rng.randrange(LENGTH + 1), dest, rng.getrandbits(16), items))
    return records


async def run(dut, words, gap_rate, stall_rate, rng):
    """Drive ``words`` with random gaps and end backpressure; compare with the model every
    cycle. Returns ``(writes per node, words out of the end)``."""
    model = ConfigChainModel(LENGTH)
    write_ports = [(getattr(dut, f"writes__{k}__valid"), getattr(dut, f"writes__{k}__dest"),
                    getattr(dut, f"writes__{k}__addr"), getattr(dut, f"writes__{k}__data"))
                   for k in range(LENGTH)]
    writes = [[] for _ in range(LENGTH)]
    out = []
    expected_strobes = [None] * LENGTH
    pending = list(words)
    idle = 0
    while idle < 4:
        await FallingEdge(dut.clk)
        valid = bool(pending) and rng.random() >= gap_rate
        word = pending[0] if pending else 0
        end_ready = rng.random() >= stall_rate
        dut.i__valid.value = int(valid)
        dut.i__payload.value = word
        dut.o__ready.value = int(end_ready)
        await ReadOnly()
        got = []
        for k, (v, d, a, x) in enumerate(write_ports):
            got.append((ConfigDest(int(d.value)), int(a.value), int(x.value))
                       if int(v.value) else None)
        assert got == expected_strobes, f"writes {got} != model {expected_strobes}"
        for k, w in enumerate(got):
            if w is not None:
                writes[k].append(w)
        taken_rtl = valid and bool(int(dut.i__ready.value))
        out_rtl = (bool(int(dut.o__valid.value)), int(dut.o__payload.value))
        taken, out_model, expected_strobes = model.step(valid, word, end_ready)
        assert taken_rtl == taken, f"input taken {taken_rtl} != model {taken}"
        assert out_rtl[0] == out_model[0] and (not out_rtl[0] or out_rtl == out_model), \
            f"output {out_rtl} != model {out_model}"
        if out_rtl[0] and end_ready:
            out.append(out_rtl[1])
        if taken:
            pending.pop(0)
        idle = 0 if (pending or model.busy or any(expected_strobes)) else idle + 1
    return writes, out


async def start(dut):
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.i__valid.value = 0
    dut.o__ready.value = 0
    await RisingEdge(dut.clk)
    await RisingEdge(dut.clk)
    dut.rst.value = 0


@cocotb.test()
async def records_reach_their_tiles(dut):
    """Every record lands at node ``hops`` with its items at consecutive addresses; records
    addressed past the end leave the chain with ``hops`` reduced by the chain length."""
    await start(dut)
    rng = random.Random(SEED)
    for gap_rate, stall_rate in ((0.0, 0.0), (0.3, 0.5), (0.6, 0.1)):
        records = random_records(rng, 40)
        writes, out = await run(dut, encode(records), gap_rate, stall_rate, rng)
        for k in range(LENGTH):
            expected = [(ConfigDest(r.dest), (r.addr + n) & 0xFFFF, item)
                        for r in records if r.hops == k for n, item in enumerate(r.items)]
            assert writes[k] == expected, f"node {k}"
        beyond = [r._replace(hops=r.hops - LENGTH) for r in records if r.hops >= LENGTH]
        assert out == encode(beyond)


@cocotb.test()
async def one_word_per_cycle(dut):
    """With no gaps and no backpressure, a stream of W words for the last node takes
    W + length cycles or fewer to leave no work behind."""
    await start(dut)
    rng = random.Random(SEED)
    items = tuple(range(200))
    words = encode([ConfigRecord(LENGTH - 1, ConfigDest.MEM, 0, items)])
    model = ConfigChainModel(LENGTH)
    cycles = 0
    pending = list(words)
    while pending or model.busy:
        taken, _, _ = model.step(bool(pending), pending[0] if pending else 0, True)
        if taken:
            pending.pop(0)
        cycles += 1
    assert cycles <= len(words) + LENGTH
    writes, _ = await run(dut, words, 0.0, 0.0, rng)
    assert writes[LENGTH - 1] == [(ConfigDest.MEM, n, n) for n in items]
