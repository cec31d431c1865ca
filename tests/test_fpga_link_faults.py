"""The FPGA link's failure paths, with fake transports instead of a board: a board that stops
answering, answers with the wrong frame, reports link errors, answers part of the counter
requests or answers out of step. Each must end in an :class:`FpgaLinkError` naming what went
wrong, never a hang or another exception."""

import numpy as np
import pytest

from wafer_engine.fabric.model.host_protocol import (SYNC, HostLinkModel, config_frame,
                                                     counter_value_frame, output_frame,
                                                     reply_frame)
from wafer_engine.fabric.model.wavelet import Wavelet
from wafer_engine.fabric.workloads import gemv_program
from wafer_engine.rtl.host_link import FrameType, array_edges
from wafer_engine.rtl.pe import COUNTERS
from wafer_engine.sw.backends.fpga import run_fpga
from wafer_engine.sw.hostlink.client import FpgaLink, FpgaLinkError
from wafer_engine.rtl.params import ArrayParams

PE = dict(colors=3, mem_words=256, acc_words=256, max_len=64)
FLUSHED, SYNCED = FrameType.FLUSHED, FrameType.SYNCED


class Scripted:
    """A transport that replays ``script`` (bytes) whatever is written, ``read(n)`` giving up
    to ``n`` of them and ``b""`` (a read timeout) once they are used up."""

    def __init__(self, script=b""):
        self.script, self.written, self.reads = bytearray(script), bytearray(), 0

    def write(self, data):
        self.written += data
        return len(data)

    def read(self, n):
        self.reads += 1
        out = bytes(self.script[:n])
        del self.script[:n]
        return out


class FakeBoard(Scripted):
    """A transport that answers like the board's link core, without an array: the host's
    bytes are parsed by :class:`HostLinkModel`; FLUSH gets FLUSHED, SYNC gets SYNCED, COUNTER
    gets COUNTER_VALUE 0. ``fault(action, reply)`` may replace each reply (bytes), to script
    a misbehaving board at a chosen point of a run."""

    def __init__(self, rows, cols, fault=None):
        super().__init__()
        self.model = HostLinkModel(len(array_edges(rows, cols)), PE["colors"], rows * cols)
        self.fault = fault or (lambda action, reply: reply)
        self.actions, self.cycle = [], 0

    def write(self, data):
        super().write(data)
        for action in self.model.feed(data):
            self.cycle += 100
            if action[0] == "flush":
                reply = reply_frame(FLUSHED, self.cycle)
            elif action[0] == "sync":
                reply = reply_frame(SYNCED, self.cycle)
            elif action[0] == "counter":
                reply = counter_value_frame(action[1], action[2], 0)
            else:
                continue
            self.actions.append(action[0])
            self.script += self.fault(action, reply)
        return len(data)


def _work():
    rng = np.random.default_rng(3)
    return gemv_program(rng.standard_normal((4, 3)), rng.standard_normal(3),
                        ArrayParams.build(rows=1, cols=1, **PE))


def _link(script):
    return FpgaLink(Scripted(script), array_edges(1, 1))


# -- one exchange, scripted bytes ------------------------------------------------------------
def test_no_answer_is_reported_after_max_silence_reads():
    transport = Scripted()
    link = FpgaLink(transport, array_edges(1, 1), max_silence=3)
    with pytest.raises(FpgaLinkError, match=r"^No answer from the FPGA \(0 bytes of a frame "
                                            r"read\)$"):
        link.sync()
    assert transport.reads == 3 and bytes(transport.written) == SYNC


def test_answer_cut_mid_frame():
    with pytest.raises(FpgaLinkError, match=r"^No answer from the FPGA \(4 bytes of a frame "
                                            r"read\)$"):
        _link(reply_frame(SYNCED, 7)[:4]).sync()


@pytest.mark.parametrize("script,call,message", [
    (reply_frame(FLUSHED, 1), "sync", "Expected SYNCED from the FPGA, got FLUSHED"),
    (reply_frame(SYNCED, 1), "flush", "Expected FLUSHED from the FPGA, got SYNCED"),
])
def test_unexpected_reply(script, call, message):
    link = _link(script)
    with pytest.raises(FpgaLinkError, match=f"^{message}$"):
        link.sync() if call == "sync" else link.send([config_frame(0)])


@pytest.mark.parametrize("status,flags", [
    (0b001, "rx_overrun"), (0b010, "rx_frame_error"), (0b100, "bad_frame"),
    (0b101, "rx_overrun, bad_frame")])
def test_link_error_flags(status, flags):
    with pytest.raises(FpgaLinkError, match=f"^The FPGA link reported errors: {flags}$"):
        _link(reply_frame(SYNCED, 1, status)).sync()


@pytest.mark.parametrize("byte", [0x00, 0x03, 0x42, 0xFF])
def test_bytes_out_of_step(byte):
    """A type byte the array never sends: a lost or corrupted byte put the stream out of step
    (0x03 is a host frame type)."""
    with pytest.raises(FpgaLinkError, match=rf"^The FPGA's byte stream is out of step: "
                                            rf"Unexpected frame type byte 0x{byte:02x} from "
                                            rf"the array$"):
        _link(bytes([byte]) + reply_frame(SYNCED, 1)).sync()


def _counters(pairs):
    return b"".join(counter_value_frame(t, k, 5) for t, k in pairs)


def test_partial_counter_answer():
    every = [(0, k) for k in range(len(COUNTERS))]
    script = _counters(every[:-1]) + reply_frame(FLUSHED, 9)
    with pytest.raises(FpgaLinkError, match=rf"^The FPGA answered {len(COUNTERS) - 1} of "
                                            rf"{len(COUNTERS)} counter requests$"):
        _link(script).read_counters(1, 1)


def test_counter_answered_twice_instead_of_another():
    every = [(0, k) for k in range(len(COUNTERS))]
    script = _counters(every[:-1] + [every[0]]) + reply_frame(FLUSHED, 9)
    with pytest.raises(FpgaLinkError, match=rf"^The FPGA answered {len(COUNTERS) - 1} of "
                                            rf"{len(COUNTERS)} counter requests$"):
        _link(script).read_counters(1, 1)


def test_counter_answer_for_another_tile():
    """As many answers as requests, one of them for a tile not asked for."""
    every = [(0, k) for k in range(len(COUNTERS))]
    script = _counters(every[:-1] + [(3, len(COUNTERS) - 1)]) + reply_frame(FLUSHED, 9)
    with pytest.raises(FpgaLinkError, match=rf"^The FPGA answered counter {len(COUNTERS) - 1} "
                                            rf"of tile 3, which was not asked for$"):
        _link(script).read_counters(1, 1)


def test_complete_counter_answer_is_read():
    """The script above with every answer present: the same reader returns them all."""
    every = [(0, k) for k in range(len(COUNTERS))]
    counters = _link(_counters(every) + reply_frame(FLUSHED, 9)).read_counters(1, 1)
    assert counters == {(0, 0): dict.fromkeys(COUNTERS, 5)}


# -- a whole run against a fake board --------------------------------------------------------
def test_fake_board_runs_a_workload():
    """The fault-free board: the run completes, every exchange answered, every counter read
    (the faults below are what make the other runs fail)."""
    board = FakeBoard(1, 1)
    result = run_fpga(_work(), board)
    assert result.counters == {(0, 0): dict.fromkeys(COUNTERS, 0)}
    assert board.actions.count("sync") == 3 and board.actions.count("counter") == len(COUNTERS)


def _after(kind, count):
    """A fault hook that lets ``count`` replies to ``kind`` through, then drops the rest of
    the conversation (the board hangs)."""
    seen = {"n": 0, "dead": False}

    def fault(action, reply):
        if action[0] == kind:
            seen["n"] += 1
            seen["dead"] |= seen["n"] > count
        return b"" if seen["dead"] else reply
    return fault


@pytest.mark.parametrize("fault,message", [
    (_after("sync", 1), r"No answer from the FPGA \(0 bytes of a frame read\)"),
    (_after("counter", 3), r"No answer from the FPGA \(0 bytes of a frame read\)"),
    (lambda action, reply: reply_frame(FLUSHED, 1, 0b001) if action[0] == "sync" else reply,
     r"Expected SYNCED from the FPGA, got FLUSHED"),
    (lambda action, reply: reply[:-1] + b"\x01" if action[0] == "flush" else reply,
     r"The FPGA link reported errors: rx_overrun"),
    (lambda action, reply: b"" if action[0] == "counter" and action[2] == 2 else reply,
     rf"The FPGA answered {len(COUNTERS) - 1} of {len(COUNTERS)} counter requests"),
    (lambda action, reply: output_frame(9, Wavelet.half(1, 0x3C00, 0), 5) + reply
     if action[0] == "sync" else reply,
     r"The FPGA sent an output on edge port 9; the array has 4"),
    (lambda action, reply: b"\x7f" + reply if action[0] == "sync" else reply,
     r"The FPGA's byte stream is out of step: Unexpected frame type byte 0x7f from the array"),
], ids=["silent-after-config", "silent-mid-counters", "wrong-reply", "link-error",
        "partial-counters", "bad-output-port", "out-of-step"])
def test_run_fails_cleanly(fault, message):
    with pytest.raises(FpgaLinkError, match=f"^{message}$"):
        run_fpga(_work(), FakeBoard(1, 1, fault))
