"""cocotb tests of the fp units (:class:`wafer_engine.rtl.harness.fp_bench.FpBench`) against the golden model.

Every cycle drives one operand set into all four units at once (multiplier, adder, converter,
ReLU) and collects what each unit emits; at the end every result is compared bit for bit with
:mod:`wafer_engine.fabric.model.fp_model`, and every result's latency is checked against the unit's ``latency``.
Parameters arrive in WAFER_TB_PARAMS (see tests/test_fp_sim.py): ``seed``, ``vectors`` (random
operations per unit), ``stall_rate`` (probability that ``en`` is low in a cycle) and
``idle_rate`` (probability that ``valid`` is low in an enabled cycle).
"""

import json
import os
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge

from wafer_engine.fabric.model.fp_model import fp16_mul, fp32_add, fp32_relu, fp32_to_fp16
from wafer_engine.rtl.harness.fp_bench import FpBench, Operands, Results, Valids

from wafer_engine.tb.fp import (FP16_CORNERS, FP32_CORNERS, add_operands, corner_pairs, fp16_operands,
               to16_operands)

PARAMS = json.loads(os.environ.get("WAFER_TB_PARAMS", "{}"))
SEED = PARAMS.get("seed", 1)
VECTORS = PARAMS.get("vectors", 20_000)
STALL_RATE = PARAMS.get("stall_rate", 0.1)
IDLE_RATE = PARAMS.get("idle_rate", 0.1)

LATENCY = FpBench.latency
UNITS = list(LATENCY)
#: Bit offsets of the bus fields, taken from the Amaranth layouts the Verilog was built from.
OPERAND_FIELDS = {name: field.offset for name, field in Operands.as_shape()}
RESULT_FIELDS = {name: (field.offset, field.width) for name, field in Results.as_shape()}
VALID_BITS = {name: field.offset for name, field in Valids.as_shape()}


def expected_results(ops):
    """Model results per unit for operand arrays ``ops`` (keys as in the Operands struct)."""
    return {
        "mul": fp16_mul(ops["mul_a"], ops["mul_b"]),
        "add": fp32_add(ops["add_a"], ops["add_b"]),
        "to16": fp32_to_fp16(ops["cvt_a"]),
        "relu": fp32_relu(ops["cvt_a"]),
    }


def pack_operands(ops):
    """One integer per operation for the ``operands`` bus (layout of bench_top.Operands)."""
    columns = [[int(v) << shift for v in np.asarray(ops[name]).tolist()]
               for name, shift in OPERAND_FIELDS.items()]
    return [sum(fields) for fields in zip(*columns)]


async def reset(dut):
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.en.value = 1
    dut.valid.value = 0
    dut.operands.value = 0
    for _ in range(2):
        await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0


async def stream(dut, ops, rng, stall_rate=0.0, idle_rate=0.0):
    """Drive every operation of ``ops`` once, with random stalls and idle cycles; check all.

    Stalled and idle cycles drive other operands (and, when stalled, a random ``valid``) so a
    unit that wrongly samples them produces a wrong or extra result.
    """
    packed = pack_operands(ops)
    n = len(packed)
    expected = expected_results(ops)
    got = {unit: [] for unit in UNITS}
    got_at = {unit: [] for unit in UNITS}
    issued_at = []
    enabled = 0         # enabled clock edges so far
    # Per-cycle choices drawn up front; the loop only does what the simulator needs.
    cycles = int(n / max((1 - stall_rate) * (1 - idle_rate), 0.05)) + 64
    ens = (rng.random(cycles) >= stall_rate).tolist()
    valids = (rng.random(cycles) >= idle_rate).tolist()
    junk = (rng.random(cycles) < 0.5).tolist()
    fields = [(unit, VALID_BITS[unit], RESULT_FIELDS[unit][0], (1 << RESULT_FIELDS[unit][1]) - 1)
              for unit in UNITS]
    i = cycle = drained = 0
    t0 = time.perf_counter()
    while drained < max(LATENCY.values()) + 1:
        await FallingEdge(dut.clk)
        en = ens[cycle % cycles] if i < n else True
        if en:
            # Whatever the units show now leaves their last stage at the coming edge.
            flags = int(dut.valids.value)
            if flags:
                results = int(dut.results.value)
                for unit, bit, offset, mask in fields:
                    if flags >> bit & 1:
                        got[unit].append(results >> offset & mask)
                        got_at[unit].append(enabled)
        if en and i < n and valids[cycle % cycles]:
            dut.operands.value = packed[i]
            dut.valid.value = 1
            issued_at.append(enabled)
            i += 1
        else:
            # Not an operation: other operands, and while stalled a random valid too.
            dut.operands.value = packed[(i * 7 + cycle) % n]
            dut.valid.value = int(not en and junk[cycle % cycles])
        dut.en.value = int(en)
        enabled += en
        drained += i >= n
        cycle += 1
    elapsed = time.perf_counter() - t0
    dut.valid.value = 0
    issued_at = np.asarray(issued_at)
    for unit in UNITS:
        assert len(got[unit]) == n, f"{unit}: {len(got[unit])} results for {n} operations"
        check_unit(unit, ops, np.asarray(got[unit], dtype=np.uint64),
                   expected[unit].astype(np.uint64))
        delays = np.asarray(got_at[unit]) - issued_at
        assert np.all(delays == LATENCY[unit]), \
            f"{unit}: latency {sorted(set(delays.tolist()))} != {LATENCY[unit]}"
    dut._log.info(f"{n} operations per unit in {cycle} cycles, {elapsed:.1f} s "
                  f"({cycle / elapsed:.0f} cycles/s); 0 mismatches")
    return cycle


def check_unit(unit, ops, got, expected):
    """Assert bit equality; report the first mismatches with their operands in hex."""
    bad = np.nonzero(got != expected)[0]
    if len(bad) == 0:
        return
    names = {"mul": ("mul_a", "mul_b"), "add": ("add_a", "add_b"), "to16": ("cvt_a",),
             "relu": ("cvt_a",)}[unit]
    lines = [f"op {j}: " + " ".join(f"{k}={int(ops[k][j]):#x}" for k in names)
             + f" -> rtl {int(got[j]):#x}, model {int(expected[j]):#x}" for j in bad[:10]]
    raise AssertionError(f"{unit}: {len(bad)} of {len(got)} results differ:\n"
                         + "\n".join(lines))


def _fit(arrays, n):
    """Repeat each array cyclically to length ``n`` (so every unit gets ``n`` operations)."""
    return [np.resize(np.asarray(a), n) for a in arrays]


@cocotb.test()
async def corners(dut):
    """Every pair of corner patterns (signed zeros, inf, quiet/signalling NaN, subnormals,
    extreme normals, ties, overflow edges), back to back with no stalls."""
    await reset(dut)
    mul_a, mul_b = corner_pairs(FP16_CORNERS)
    add_a, add_b = corner_pairs(FP32_CORNERS)
    n = max(len(mul_a), len(add_a))
    mul_a, mul_b, add_a, add_b, cvt_a = _fit([mul_a, mul_b, add_a, add_b, FP32_CORNERS], n)
    ops = {"mul_a": mul_a, "mul_b": mul_b, "add_a": add_a, "add_b": add_b, "cvt_a": cvt_a}
    await stream(dut, ops, np.random.default_rng(SEED))


@cocotb.test()
async def random_biased(dut):
    """``vectors`` random operations per unit, biased toward corner classes, with random
    stalls (``en`` low) and idle cycles (``valid`` low)."""
    await reset(dut)
    rng = np.random.default_rng(SEED)
    add_a, add_b = add_operands(rng, VECTORS)
    ops = {"mul_a": fp16_operands(rng, VECTORS), "mul_b": fp16_operands(rng, VECTORS),
           "add_a": add_a, "add_b": add_b, "cvt_a": to16_operands(rng, VECTORS)}
    await stream(dut, ops, rng, STALL_RATE, IDLE_RATE)
