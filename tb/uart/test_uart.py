"""cocotb tests of the UART: the receiver against line levels from :mod:`wafer_engine.fabric.model.uart_model`,
the transmitter's line compared cycle by cycle with the model's waveform."""

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from wafer_engine.fabric.model.uart_model import character_bits, decode_line, tx_waveform

PARAMS = json.loads(os.environ.get("WAFER_TB_PARAMS", "{}"))
DIVISOR = PARAMS.get("divisor", 4)
SEED = PARAMS.get("seed", 1)


async def start(dut):
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.rx.value = 1
    dut.i__valid.value = 0
    dut.o__ready.value = 0
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0


def line_for(data, rng=None, max_gap=0, bad_stop=()):
    """Per-cycle line levels for ``data`` with random idle gaps (0..``max_gap`` cycles) and a
    low stop bit on the characters whose positions are in ``bad_stop``."""
    line = [1] * 3
    for n, byte in enumerate(data):
        bits = character_bits(byte)
        if n in bad_stop:
            bits[-1] = 0
        for bit in bits:
            line += [bit] * DIVISOR
        if n in bad_stop:
            line += [0] * DIVISOR + [1] * DIVISOR
        line += [1] * (rng.randint(0, max_gap) if rng else 0)
    return line + [1] * (12 * DIVISOR)


async def receive(dut, line, ready_rate=1.0, rng=None):
    """Drive ``line`` on ``rx`` one level per cycle, take ``o`` when ready; returns the bytes
    and the counts of overrun and frame-error strobes."""
    got, overruns, frame_errors = [], 0, 0
    for level in line:
        await FallingEdge(dut.clk)
        dut.rx.value = level
        ready = rng.random() < ready_rate if rng else ready_rate >= 1.0
        dut.o__ready.value = int(ready)
        await ReadOnly()
        if int(dut.o__valid.value) and ready:
            got.append(int(dut.o__payload.value))
        overruns += int(dut.overrun.value)
        frame_errors += int(dut.frame_error.value)
    return bytes(got), overruns, frame_errors


@cocotb.test()
async def rx_directed(dut):
    """Edge patterns (all zeros, all ones, alternating) back to back, always ready."""
    await start(dut)
    data = bytes([0x00, 0xFF, 0x55, 0xAA, 0x01, 0x80])
    got, overruns, errors = await receive(dut, line_for(data))
    assert got == data and overruns == errors == 0, (got, overruns, errors)


@cocotb.test()
async def rx_random_backpressure(dut):
    """Random bytes with random gaps; the consumer takes a byte in 30 % of cycles, which
    is always within a character time, so nothing may be lost."""
    await start(dut)
    rng = random.Random(SEED)
    data = bytes(rng.getrandbits(8) for _ in range(200))
    got, overruns, errors = await receive(dut, line_for(data, rng, 3 * DIVISOR), 0.3, rng)
    assert got == data and overruns == errors == 0


@cocotb.test()
async def rx_overrun_keeps_the_first_byte(dut):
    """With ``o`` never taken, the second byte is dropped (one overrun strobe) and the first
    stays valid; taking it then yields exactly that byte."""
    await start(dut)
    got, overruns, errors = await receive(dut, line_for(bytes([0x3C, 0xC3])), 0.0)
    assert got == b"" and overruns == 1 and errors == 0
    assert int(dut.o__valid.value) and int(dut.o__payload.value) == 0x3C
    got, overruns, _ = await receive(dut, [1, 1], 1.0)
    assert got == bytes([0x3C]) and overruns == 0


@cocotb.test()
async def rx_frame_error_drops_the_character(dut):
    """A low stop bit: that byte is dropped with one frame-error strobe, and the receiver
    recovers once the line is high again."""
    await start(dut)
    data = bytes([0x11, 0x22, 0x33])
    got, overruns, errors = await receive(dut, line_for(data, bad_stop={1}))
    assert got == bytes([0x11, 0x33]) and errors == 1 and overruns == 0


async def transmit(dut, data, valid_rate, rng):
    """Offer ``data`` on ``i`` (valid in ``valid_rate`` of the cycles) and record ``tx`` every
    cycle until the last character's stop bit is out; returns the levels."""
    pending, line, idle = list(data), [], 0
    while idle < 12 * DIVISOR:
        await FallingEdge(dut.clk)
        valid = bool(pending) and rng.random() < valid_rate
        dut.i__valid.value = int(valid)
        dut.i__payload.value = pending[0] if pending else 0
        await ReadOnly()
        line.append(int(dut.tx.value))
        if valid and int(dut.i__ready.value):
            pending.pop(0)
        idle = 0 if pending or not int(dut.i__ready.value) else idle + 1
    return line


@cocotb.test()
async def tx_back_to_back_matches_the_model(dut):
    """Always valid: the line equals the model's waveform cycle for cycle (one idle cycle
    between characters)."""
    await start(dut)
    rng = random.Random(SEED)
    data = bytes([0x00, 0xFF, 0x55]) + bytes(rng.getrandbits(8) for _ in range(20))
    line = await transmit(dut, data, 1.0, rng)
    first = line.index(0)
    want = tx_waveform(data, DIVISOR)
    assert line[first:first + len(want)] == want
    assert all(line[first + len(want):]) and all(line[:first])


@cocotb.test()
async def tx_random_gaps(dut):
    """Random bytes offered with random gaps decode to the same bytes."""
    await start(dut)
    rng = random.Random(SEED + 1)
    data = bytes(rng.getrandbits(8) for _ in range(100))
    line = await transmit(dut, data, 0.2, rng)
    assert decode_line(line, DIVISOR) == data
