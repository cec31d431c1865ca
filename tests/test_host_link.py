"""The host link core: the protocol model, parameter checks, and the RTL on Verilator."""

import re

import pytest

from wafer_engine.fabric.model.host_protocol import (FLUSH, RESET, SYNC, CounterValue, HostLinkModel, Output,
                                  Reply, ReplyDecoder, config_frame, counter_frame,
                                  counter_value_frame, output_frame, reply_frame, status_text,
                                  wavelet_frame)
from wafer_engine.sw.flows.verilog import write_verilog
from wafer_engine.fabric.model.wavelet import Wavelet
from wafer_engine.rtl.host_link import FrameType, HostLink
from wafer_engine.sw.sim.runner import run_cocotb, sim_dir


@pytest.mark.parametrize("edges,colors,tiles", [(4, 3, 6), (1, 1, 1)])
def test_host_link_rtl(edges, colors, tiles):
    config = f"e{edges}_c{colors}_t{tiles}"
    verilog = write_verilog(HostLink(edges=edges, colors=colors, quiet_cycles=20, tiles=tiles),
                            "host_link", sim_dir("host_link", config))
    run_cocotb(unit="host_link", config_name=config, verilog_path=verilog,
               toplevel="host_link", test_module="wafer_engine.tb.host_link.test_host_link",
               params={"edges": edges, "colors": colors, "quiet": 20, "seed": edges,
                       "tiles": tiles})


def test_frame_bytes_little_endian():
    assert config_frame(0x11223344) == bytes([0x01, 0x44, 0x33, 0x22, 0x11])
    w = Wavelet(5, 0xDEADBEEF, 1)                  # bits: payload | 5 << 32 | 1 << 37
    assert wavelet_frame(3, w) == bytes([0x02, 3, 0xEF, 0xBE, 0xAD, 0xDE, 0x25])
    assert output_frame(3, w, 0x01020304)[-4:] == bytes([4, 3, 2, 1])
    assert reply_frame(FrameType.SYNCED, 258, 4) == bytes([0x84, 2, 1, 0, 0, 4])
    assert counter_frame(0x0102, 7) == bytes([0x06, 2, 1, 7])
    assert counter_value_frame(5, 2, 0xA1B2C3D4) == bytes([0x86, 5, 0, 2, 0xD4, 0xC3, 0xB2,
                                                           0xA1])


def test_model_parses_frames_and_flags_bad_ones():
    model = HostLinkModel(edges=4, colors=3)
    data = (config_frame(7) + wavelet_frame(2, Wavelet(1, 9)) + bytes([0x42]) + FLUSH
            + wavelet_frame(4, Wavelet(0, 1)) + SYNC)
    assert model.feed(data[:3]) == []                 # frames may arrive in pieces
    assert model.feed(data[3:]) == [("config", 7), ("wavelet", 2, Wavelet(1, 9)), ("flush",),
                                    ("sync",)]
    assert model.bad_frame
    assert model.feed(wavelet_frame(0, Wavelet(3, 1)) + RESET) == [("reset",)]
    assert not model.bad_frame


def test_model_answers_counter_frames_in_range():
    model = HostLinkModel(edges=4, colors=3, tiles=6)
    assert model.feed(counter_frame(5, 7) + counter_frame(0, 0)) == [("counter", 5, 7),
                                                                     ("counter", 0, 0)]
    assert not model.bad_frame
    bad_counter = bytes([0x06, 0, 0, 8])                 # counter_frame refuses to build it
    assert model.feed(counter_frame(6, 0) + bad_counter) == [("counter", 6, 0, "bad"),
                                                            ("counter", 0, 8, "bad")]
    assert model.bad_frame


def test_reply_decoder_splits_frames():
    w = Wavelet(2, 0x12345678)
    data = (output_frame(1, w, 99) + reply_frame(FrameType.FLUSHED, 5, 1)
            + counter_value_frame(300, 6, 0xFFFFFFFF))
    decoder = ReplyDecoder()
    assert decoder.feed(data[:7]) == []
    assert decoder.feed(data[7:-1]) == [Output(1, w, 99), Reply(FrameType.FLUSHED, 5, 1)]
    assert decoder.feed(data[-1:]) == [CounterValue(300, 6, 0xFFFFFFFF)]
    with pytest.raises(ValueError, match=r"^Unexpected frame type byte 0x02 from the array$"):
        decoder.feed(b"\x02")
    assert status_text(0b101) == "rx_overrun, bad_frame"


@pytest.mark.parametrize("kwargs,message", [
    (dict(edges=0), "Edge port count must be an integer between 1 and 255, not 0"),
    (dict(edges=256), "Edge port count must be an integer between 1 and 255, not 256"),
    (dict(colors=25), "Color count must be an integer between 1 and 24, not 25"),
    (dict(quiet_cycles=0), "Quiet cycles must be an integer between 1 and 65536, not 0"),
    (dict(out_depth=65), "Output FIFO depth must be an integer between 1 and 64, not 65"),
    (dict(tiles=0), "Tile count must be an integer between 1 and 4096, not 0"),
    (dict(tiles=4097), "Tile count must be an integer between 1 and 4096, not 4097"),
])
def test_bad_parameters(kwargs, message):
    args = dict(edges=4, colors=3, quiet_cycles=20) | kwargs
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        HostLink(**args)


@pytest.mark.parametrize("call,message", [
    (lambda: config_frame(1 << 32),
     "A configuration word must be a 32-bit unsigned integer, not 4294967296"),
    (lambda: wavelet_frame(255, Wavelet(0, 0)),
     "Edge port must be an integer between 0 and 254, not 255"),
    (lambda: counter_frame(1 << 16, 0), "Tile must be an integer between 0 and 65535, not 65536"),
    (lambda: counter_frame(0, 8), "Counter must be an integer between 0 and 7, not 8"),
    (lambda: counter_frame(0, "busy_cycles"),
     "Counter must be an integer between 0 and 7, not 'busy_cycles'"),
])
def test_bad_frames(call, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        call()
