"""The host link's byte frames in Python: encoders, a decoder of the array's replies, and a
model of what :class:`wafer_engine.rtl.host_link.HostLink` does with the bytes it receives."""

from typing import NamedTuple

from wafer_engine.rtl.checks import check_int
from wafer_engine.rtl.host_link import MAX_EDGES, PAYLOAD_BYTES, FrameType, array_edges
from wafer_engine.rtl.pe import COUNTERS

from wafer_engine.fabric.model.wavelet import Wavelet

__all__ = ["config_frame", "wavelet_frame", "counter_frame", "FLUSH", "SYNC", "RESET",
           "output_frame", "reply_frame", "counter_value_frame", "Output", "Reply",
           "CounterValue", "FROM_ARRAY", "ReplyDecoder", "HostLinkModel", "STATUS_FLAGS",
           "status_text", "FrameType", "PAYLOAD_BYTES", "array_edges"]

FLUSH = bytes([FrameType.FLUSH.value])
SYNC = bytes([FrameType.SYNC.value])
RESET = bytes([FrameType.RESET.value])
#: Status byte bits (:class:`wafer_engine.rtl.host_link.LinkStatus`), low bit first.
STATUS_FLAGS = ("rx_overrun", "rx_frame_error", "bad_frame")
_WAVELET_BYTES = 5


def config_frame(word):
    """A CONFIG frame carrying one 32-bit configuration-chain word."""
    if not isinstance(word, int) or not 0 <= word < 1 << 32:
        raise ValueError(f"A configuration word must be a 32-bit unsigned integer, not {word!r}")
    return bytes([FrameType.CONFIG.value]) + word.to_bytes(4, "little")


def wavelet_frame(port, wavelet):
    """A WAVELET frame: ``wavelet`` (a :class:`~wafer_engine.fabric.model.wavelet.Wavelet`) into edge ``port``."""
    check_int(port, 0, MAX_EDGES - 1, "Edge port")
    return (bytes([FrameType.WAVELET.value, port])
            + wavelet.to_bits().to_bytes(_WAVELET_BYTES, "little"))


def counter_frame(tile, counter):
    """A COUNTER frame asking for PE counter ``counter`` (an index into
    :data:`wafer_engine.rtl.pe.COUNTERS`) of tile ``tile`` (``row * cols + col``)."""
    check_int(tile, 0, (1 << 16) - 1, "Tile")
    check_int(counter, 0, len(COUNTERS) - 1, "Counter")
    return bytes([FrameType.COUNTER.value]) + tile.to_bytes(2, "little") + bytes([counter])


def output_frame(port, wavelet, cycle):
    """The OUTPUT frame the array sends for ``wavelet`` leaving edge ``port`` at ``cycle``."""
    return (bytes([FrameType.OUTPUT.value, port])
            + wavelet.to_bits().to_bytes(_WAVELET_BYTES, "little")
            + (cycle & 0xFFFFFFFF).to_bytes(4, "little"))


def reply_frame(kind, cycle, status=0):
    """A FLUSHED or SYNCED frame (``kind`` a :class:`FrameType`)."""
    return bytes([kind.value]) + (cycle & 0xFFFFFFFF).to_bytes(4, "little") + bytes([status])


def counter_value_frame(tile, counter, value):
    """The COUNTER_VALUE frame the array sends in answer to a COUNTER frame."""
    return (bytes([FrameType.COUNTER_VALUE.value]) + tile.to_bytes(2, "little")
            + bytes([counter]) + (value & 0xFFFFFFFF).to_bytes(4, "little"))


def status_text(status):
    """``"rx_overrun, bad_frame"``: the flags set in a status byte."""
    return ", ".join(name for n, name in enumerate(STATUS_FLAGS) if status >> n & 1)


class Output(NamedTuple):
    """A wavelet that left the array at edge ``port`` in ``cycle`` (the array's counter)."""
    port: int
    wavelet: Wavelet
    cycle: int


class Reply(NamedTuple):
    """A FLUSHED or SYNCED frame: ``kind``, the array's ``cycle`` counter and ``status``."""
    kind: FrameType
    cycle: int
    status: int


class CounterValue(NamedTuple):
    """A COUNTER_VALUE frame: PE counter ``counter`` (index into :data:`wafer_engine.rtl.pe.COUNTERS`) of
    tile ``tile`` was ``value``."""
    tile: int
    counter: int
    value: int


#: Frame types the array sends.
FROM_ARRAY = (FrameType.OUTPUT, FrameType.FLUSHED, FrameType.SYNCED, FrameType.COUNTER_VALUE)


class ReplyDecoder:
    """Splits the array's byte stream into :class:`Output`, :class:`Reply` and
    :class:`CounterValue` frames.

    :meth:`feed` takes any number of bytes and returns the frames completed by them; a type
    byte the array never sends raises ``ValueError`` naming it (the stream is then out of
    step, e.g. after a lost byte)."""

    def __init__(self):
        self._pending = bytearray()

    def feed(self, data):
        self._pending += data
        frames = []
        while self._pending:
            code = self._pending[0]
            if code not in (t.value for t in FROM_ARRAY):
                raise ValueError(f"Unexpected frame type byte 0x{code:02x} from the array")
            kind = FrameType(code)
            size = 1 + PAYLOAD_BYTES[kind]
            if len(self._pending) < size:
                break
            body, self._pending = bytes(self._pending[1:size]), self._pending[size:]
            if kind == FrameType.OUTPUT:
                bits = int.from_bytes(body[1:6], "little") & ((1 << 38) - 1)
                frames.append(Output(body[0], Wavelet.from_bits(bits),
                                     int.from_bytes(body[6:10], "little")))
            elif kind == FrameType.COUNTER_VALUE:
                frames.append(CounterValue(int.from_bytes(body[:2], "little"), body[2],
                                           int.from_bytes(body[3:7], "little")))
            else:
                frames.append(Reply(kind, int.from_bytes(body[:4], "little"), body[4]))
        return frames


class HostLinkModel:
    """What the link core's parser does with host bytes, timing left out.

    :meth:`feed` returns, per completed frame, ``("config", word)``, ``("wavelet", port,
    Wavelet)``, ``("flush",)``, ``("sync",)``, ``("reset",)`` or ``("counter", tile,
    counter)``; frames the core rejects (unknown type, port ``>= edges``, color ``>=
    colors``) set ``bad_frame`` instead, a COUNTER frame with tile ``>= tiles`` or an unknown
    counter sets it and is answered with 0 (``("counter", tile, counter, "bad")``), and RESET
    clears it, as in the RTL.
    """

    def __init__(self, edges, colors, tiles=1):
        self.edges, self.colors, self.tiles = edges, colors, tiles
        self.bad_frame = False
        self._kind, self._need, self._buf = None, 0, bytearray()

    def feed(self, data):
        actions = []
        for byte in data:
            if self._kind is None:
                if byte in (FrameType.CONFIG.value, FrameType.WAVELET.value,
                            FrameType.COUNTER.value):
                    self._kind = FrameType(byte)
                    self._need, self._buf = PAYLOAD_BYTES[self._kind], bytearray()
                elif byte in (FrameType.FLUSH.value, FrameType.SYNC.value):
                    actions.append((FrameType(byte).name.lower(),))
                elif byte == FrameType.RESET.value:
                    self.bad_frame = False
                    actions.append(("reset",))
                else:
                    self.bad_frame = True
                continue
            self._buf.append(byte)
            self._need -= 1
            if self._need:
                continue
            if self._kind == FrameType.CONFIG:
                actions.append(("config", int.from_bytes(self._buf, "little")))
            elif self._kind == FrameType.COUNTER:
                tile, counter = int.from_bytes(self._buf[:2], "little"), self._buf[2]
                if tile < self.tiles and counter < len(COUNTERS):
                    actions.append(("counter", tile, counter))
                else:
                    self.bad_frame = True
                    actions.append(("counter", tile, counter, "bad"))
            else:
                port = self._buf[0]
                bits = int.from_bytes(self._buf[1:6], "little") & ((1 << 38) - 1)
                w = Wavelet.from_bits(bits)
                if port >= self.edges or w.color >= self.colors:
                    self.bad_frame = True
                else:
                    actions.append(("wavelet", port, w))
            self._kind = None
        return actions
