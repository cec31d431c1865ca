"""The host side of the UART host link: frames to and from the board's array over any byte
transport.

``link`` is any byte transport with ``write(data)`` and ``read(n)`` (at most ``n`` bytes;
fewer, or none, when its timeout passes), e.g. ``serial.Serial(port, 115200, timeout=1)`` from
pyserial for a real board, or the simulated line of ``tb/uart_link``. The frames are those of
the protocol model :mod:`wafer_engine.fabric.model.host_protocol` (docs/fpga.md). At most
``window`` bytes are in flight between FLUSH replies, so the board's receive FIFO never
overflows.
"""

from wafer_engine.fabric.model.host_protocol import (FLUSH, FROM_ARRAY, PAYLOAD_BYTES, RESET,
                                                     SYNC, CounterValue, FrameType, Output,
                                                     ReplyDecoder, counter_frame, status_text)
from wafer_engine.rtl.checks import check_int
from wafer_engine.rtl.pe import COUNTERS

__all__ = ["FpgaLink", "FpgaLinkError", "open_serial", "DEFAULT_WINDOW"]

#: Bytes in flight between FLUSH replies: the board's receive FIFO (64 bytes) less the FLUSH.
DEFAULT_WINDOW = 63


class FpgaLinkError(RuntimeError):
    """The board did not answer, answered out of step, or reported a link error."""


def open_serial(port, baud=115200, timeout=1.0):
    """The board's serial port (a device such as ``/dev/ttyUSB0``, or any pyserial URL) at
    ``baud`` bits/s with a ``timeout`` in seconds per read; ``ValueError`` naming the port if
    it cannot be opened."""
    import serial

    check_int(baud, 300, 12_000_000, "Baud rate")
    try:
        return serial.serial_for_url(port, baudrate=baud, timeout=timeout)
    except (serial.SerialException, ValueError) as exc:
        raise ValueError(f"Cannot open serial port {port!r}: {exc}") from None


class FpgaLink:
    """The host side of the link: sends frames in windows, collects OUTPUT and
    COUNTER_VALUE frames, and checks the status of every reply. ``max_silence`` empty reads
    in a row raise :class:`FpgaLinkError` (the board does not answer)."""

    def __init__(self, link, edges, window=DEFAULT_WINDOW, max_silence=3):
        if not isinstance(window, int) or isinstance(window, bool) or window < 7:
            raise ValueError(f"Window must be an integer of at least 7 bytes (one WAVELET "
                             f"frame), not {window!r}")
        self.link, self.edges, self.window = link, edges, window
        self.max_silence = max_silence
        self.outputs, self.counter_values = [], []
        self._decoder = ReplyDecoder()

    def _frame(self):
        """Read one whole frame from the board."""
        data, need, silence = b"", 1, 0
        while len(data) < need:
            got = self.link.read(need - len(data))
            if not got:
                silence += 1
                if silence >= self.max_silence:
                    raise FpgaLinkError(f"No answer from the FPGA ({len(data)} bytes of a "
                                        f"frame read)")
                continue
            silence = 0
            data += got
            if len(data) == 1 and data[0] in (t.value for t in FROM_ARRAY):
                need = 1 + PAYLOAD_BYTES[FrameType(data[0])]
        try:
            frames = self._decoder.feed(data)
        except ValueError as exc:
            raise FpgaLinkError(f"The FPGA's byte stream is out of step: {exc}") from None
        return frames[0]

    def wait(self, kind):
        """Collect OUTPUT and COUNTER_VALUE frames until a ``kind`` reply; returns it. Raises
        :class:`FpgaLinkError` if its status has an error flag set."""
        while True:
            frame = self._frame()
            if isinstance(frame, Output):
                self.outputs.append(frame)
                continue
            if isinstance(frame, CounterValue):
                self.counter_values.append(frame)
                continue
            if frame.kind != kind:
                raise FpgaLinkError(f"Expected {kind.name} from the FPGA, got {frame.kind.name}")
            if frame.status:
                raise FpgaLinkError(f"The FPGA link reported errors: {status_text(frame.status)}")
            return frame

    def send(self, frames):
        """Send ``frames`` (byte strings) in windows, each closed by FLUSH and its reply."""
        chunk = b""
        for frame in frames:
            if len(chunk) + len(frame) > self.window:
                self._flush(chunk)
                chunk = b""
            chunk += frame
        if chunk:
            self._flush(chunk)

    def _flush(self, chunk):
        self.link.write(chunk + FLUSH)
        self.wait(FrameType.FLUSHED)

    def sync(self):
        """SYNC: returns the reply once the array is quiet and every output arrived."""
        self.link.write(SYNC)
        return self.wait(FrameType.SYNCED)

    def reset(self):
        self.link.write(RESET)

    def read_counters(self, rows, cols):
        """Every PE counter of an R x C array: ``{(row, col): {counter: value}}``, the
        golden backend's layout. The requests go out in FLUSH-closed windows like any frames;
        the final FLUSHED reports whether the board flagged one (:class:`FpgaLinkError`)."""
        tiles = [(r, c) for r in range(rows) for c in range(cols)]
        start = len(self.counter_values)
        self.send([counter_frame(r * cols + c, k) for r, c in tiles
                   for k in range(len(COUNTERS))])
        got = {(v.tile, v.counter): v.value for v in self.counter_values[start:]}
        asked = {(r * cols + c, k) for r, c in tiles for k in range(len(COUNTERS))}
        stray = sorted(set(got) - asked)
        if stray:
            raise FpgaLinkError(f"The FPGA answered counter {stray[0][1]} of tile "
                                f"{stray[0][0]}, which was not asked for")
        if len(got) != len(tiles) * len(COUNTERS):
            raise FpgaLinkError(f"The FPGA answered {len(got)} of {len(tiles) * len(COUNTERS)} "
                               f"counter requests")
        return {(r, c): {name: got[r * cols + c, k] for k, name in enumerate(COUNTERS)}
                for r, c in tiles}
