"""Python model of :mod:`wafer_engine.rtl.uart`: serial line levels, one per clock cycle, to and from bytes."""

__all__ = ["character_bits", "tx_waveform", "UartDecoder", "decode_line"]


def character_bits(byte):
    """The ten line levels of one 8N1 character: start (0), bits 0..7, stop (1)."""
    if not isinstance(byte, int) or not 0 <= byte <= 0xFF:
        raise ValueError(f"A UART character must be an integer between 0 and 255, not {byte!r}")
    return [0] + [(byte >> n) & 1 for n in range(8)] + [1]


def tx_waveform(data, divisor, gap=1):
    """Line levels, one per clock cycle, of ``data`` sent back to back by
    :class:`wafer_engine.rtl.uart.UartTx`: each bit ``divisor`` cycles, ``gap`` idle-high cycles between
    characters (the transmitter's one cycle by default)."""
    line = []
    for n, byte in enumerate(data):
        if n:
            line += [1] * gap
        for bit in character_bits(byte):
            line += [bit] * divisor
    return line


class UartDecoder:
    """What :class:`wafer_engine.rtl.uart.UartRx` makes of a line, sampled once per clock cycle.

    :meth:`step` takes the line level of one cycle and returns the received byte in the
    cycle a character's stop bit is sampled, ``None`` otherwise; ``frame_errors`` counts
    characters with a low stop bit. The synchroniser's two-cycle delay is left out: it shifts
    every event by the same two cycles.
    """

    def __init__(self, divisor):
        self.divisor = divisor
        self.frame_errors = 0
        self._state, self._timer, self._bits = "IDLE", 0, []

    def step(self, level):
        state = self._state
        if state == "IDLE":
            if not level:
                self._state, self._timer = "START", self.divisor // 2 - 1
        elif state == "BREAK":
            if level:
                self._state = "IDLE"
        elif self._timer:
            self._timer -= 1
        elif state == "START":
            self._state = "IDLE" if level else "DATA"
            self._timer, self._bits = self.divisor - 1, []
        elif state == "DATA":
            self._bits.append(level)
            self._timer = self.divisor - 1
            if len(self._bits) == 8:
                self._state = "STOP"
        else:  # STOP
            if level:
                self._state = "IDLE"
                return sum(b << n for n, b in enumerate(self._bits))
            self.frame_errors += 1
            self._state = "BREAK"
        return None


def decode_line(levels, divisor):
    """Bytes in a list of per-cycle line levels (see :class:`UartDecoder`)."""
    decoder = UartDecoder(divisor)
    return bytes(b for b in map(decoder.step, levels) if b is not None)
