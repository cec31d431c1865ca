"""cocotb tests of the host link core (:class:`wafer_engine.rtl.host_link.HostLink`) against the protocol
model, under random backpressure on every output."""

import json
import os
import random

import cocotb

from wafer_engine.fabric.model.host_protocol import (FLUSH, RESET, SYNC, CounterValue, Output, Reply,
                                  config_frame, counter_frame, wavelet_frame)
from wafer_engine.fabric.model.wavelet import Wavelet
from wafer_engine.rtl.host_link import RESET_CYCLES, FrameType
from wafer_engine.rtl.pe import COUNTERS

from wafer_engine.tb.host_link.tb import HostLinkTB

PARAMS = json.loads(os.environ.get("WAFER_TB_PARAMS", "{}"))
EDGES = PARAMS.get("edges", 4)
COLORS = PARAMS.get("colors", 3)
QUIET = PARAMS.get("quiet", 20)
TILES = PARAMS.get("tiles", 1)
SEED = PARAMS.get("seed", 1)


def random_wavelet(rng, colors=COLORS):
    return Wavelet(rng.randrange(colors), rng.getrandbits(32), rng.getrandbits(1))


def replies(tb):
    return [f for f in tb.frames if isinstance(f, Reply)]


def outputs(tb):
    return [f for f in tb.frames if isinstance(f, Output)]


async def check_flush(tb):
    """Send FLUSH, wait for FLUSHED; by then every earlier frame must have been delivered."""
    count = len(replies(tb))
    tb.send(FLUSH)
    await tb.run(until=lambda: len(replies(tb)) > count)
    words, per_port = tb.expected_inputs()
    assert tb.cfg_words == words, f"config words {tb.cfg_words} != {words}"
    assert tb.edge_in == per_port, f"edge inputs {tb.edge_in} != {per_port}"
    reply = replies(tb)[-1]
    assert reply.kind == FrameType.FLUSHED
    return reply


@cocotb.test()
async def directed_frames(dut):
    """One CONFIG and one WAVELET per port, no backpressure; FLUSHED reports a clean status."""
    tb = HostLinkTB(dut, EDGES, COLORS, random.Random(SEED))
    await tb.start()
    tb.send(config_frame(0x12345678) + config_frame(0xFFFFFFFF))
    for k in range(EDGES):
        tb.send(wavelet_frame(k, Wavelet(k % COLORS, 0xA5A50000 + k, k & 1)))
    reply = await check_flush(tb)
    assert reply.status == 0 and tb.cfg_words == [0x12345678, 0xFFFFFFFF]


@cocotb.test()
async def random_frames_with_backpressure(dut):
    """Random CONFIG and WAVELET frames with random byte gaps, a stalling chain, per-color
    edge stalls and a stalling host; then FLUSH."""
    rng = random.Random(SEED + 1)
    tb = HostLinkTB(dut, EDGES, COLORS, rng, rx_pause=0.3, cfg_stall=0.5, edge_stall=0.6,
                    tx_stall=0.5)
    await tb.start()
    for _ in range(150):
        if rng.random() < 0.3:
            tb.send(config_frame(rng.getrandbits(32)))
        else:
            tb.send(wavelet_frame(rng.randrange(EDGES), random_wavelet(rng)))
    reply = await check_flush(tb)
    assert reply.status == 0


@cocotb.test()
async def outputs_are_framed_and_stamped(dut):
    """Random wavelets leave every edge while the host stalls ``tx`` half the time: OUTPUT
    frames carry them in order per port, stamped with the cycle they left."""
    rng = random.Random(SEED + 2)
    tb = HostLinkTB(dut, EDGES, COLORS, rng, tx_stall=0.5)
    await tb.start()
    for k in range(EDGES):
        tb.to_send[k] = [random_wavelet(rng) for _ in range(rng.randint(5, 15))]
    total = sum(len(s) for s in tb.to_send)
    await tb.run(until=lambda: len(outputs(tb)) == total)
    got = outputs(tb)
    offset = got[0].cycle - min(c for s in tb.sent for c, _ in s[:1])
    for k in range(EDGES):
        mine = [o for o in got if o.port == k]
        assert [o.wavelet for o in mine] == [w for _, w in tb.sent[k]]
        assert [o.cycle - offset for o in mine] == [c for c, _ in tb.sent[k]]


@cocotb.test()
async def sync_waits_for_quiet_and_outputs(dut):
    """SYNCED comes only after ``idle`` has been high for the quiet cycles and after every
    OUTPUT frame of wavelets that left before; a bad frame sets the status bit."""
    rng = random.Random(SEED + 3)
    tb = HostLinkTB(dut, EDGES, COLORS, rng, tx_stall=0.3)
    await tb.start()
    tb.idle = 0
    tb.send(bytes([0x7E]))                                   # unknown type: bad_frame
    tb.send(wavelet_frame(EDGES, Wavelet(0, 1)))             # port out of range
    tb.send(wavelet_frame(0, Wavelet(COLORS, 1)) if COLORS < 24 else b"")
    tb.send(wavelet_frame(0, Wavelet(0, 7)))
    for k in range(EDGES):
        tb.to_send[k] = [random_wavelet(rng) for _ in range(3)]
    tb.send(SYNC)
    await tb.run(300)
    assert not replies(tb), "SYNCED while the array was busy"
    tb.idle = 1
    released = tb.cycle
    await tb.run(until=lambda: replies(tb))
    reply = replies(tb)[0]
    assert reply.kind == FrameType.SYNCED and reply.status == 0b100
    assert tb.frames[-1] == reply and len(outputs(tb)) == 3 * EDGES
    assert tb.edge_in[0] == [Wavelet(0, 7)] and sum(map(len, tb.edge_in)) == 1
    # Quiet is counted from the first cycle with idle high.
    assert tb.cycle - released >= QUIET


@cocotb.test()
async def counter_frames_are_answered(dut):
    """COUNTER frames for every counter of every tile (and the first ones out of range), in
    random order among other frames, with random byte gaps and a stalling host: each gets a
    COUNTER_VALUE with the array's value, in order; out-of-range ones get 0 and bad_frame."""
    rng = random.Random(SEED + 5)
    tb = HostLinkTB(dut, EDGES, COLORS, rng, rx_pause=0.3, tx_stall=0.5, edge_stall=0.3,
                    tiles=TILES)
    await tb.start()
    good = [(t, k) for t in range(TILES) for k in range(len(COUNTERS))]
    rng.shuffle(good)
    for tile, counter in good:
        tb.send(counter_frame(tile, counter))
        if rng.random() < 0.3:
            tb.send(wavelet_frame(rng.randrange(EDGES), random_wavelet(rng)))
    reply = await check_flush(tb)
    got = [f for f in tb.frames if isinstance(f, CounterValue)]
    assert got == tb.expected_counters() and len(got) == len(good)
    assert reply.status == 0
    # A tile past the array and a counter past the last: answered with 0, bad_frame set.
    tb.send(counter_frame(TILES, 0) + bytes([FrameType.COUNTER.value, 0, 0, len(COUNTERS)]))
    reply = await check_flush(tb)
    got = [f for f in tb.frames if isinstance(f, CounterValue)][len(good):]
    assert got == [CounterValue(TILES, 0, 0), CounterValue(0, len(COUNTERS), 0)]
    assert got == tb.expected_counters()[len(good):]
    assert reply.status == 0b100


@cocotb.test()
async def reset_clears_status_and_counter(dut):
    """RESET holds array_rst for RESET_CYCLES cycles, clears the status flags (an overrun
    strobe set one) and restarts the cycle counter."""
    tb = HostLinkTB(dut, EDGES, COLORS, random.Random(SEED + 4))
    await tb.start()
    tb.rx_overrun = 1
    await tb.run(1)
    tb.rx_overrun = 0
    await tb.run(500)
    first = await check_flush(tb)
    assert first.status == 0b001 and first.cycle > 500
    tb.send(RESET)
    second = await check_flush(tb)
    assert tb.resets == RESET_CYCLES
    assert second.status == 0 and second.cycle < 100
