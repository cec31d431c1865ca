"""A UART (8 data bits, no parity, 1 stop bit, LSB first, idle high) as two stream components.

Both sides count ``divisor`` clock cycles per bit (for a 25 MHz clock and 115200 baud,
``divisor = round(25e6 / 115200) = 217``). The Python model is :mod:`wafer_engine.fabric.model.uart_model`.
"""

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UartTx", "UartRx", "check_divisor", "MIN_DIVISOR", "MAX_DIVISOR", "divisor_for"]

#: Fewest clock cycles per bit: the receiver samples mid-bit after a start edge it sees with up
#: to one cycle of uncertainty, so a bit must last at least four cycles.
MIN_DIVISOR = 4
#: Most clock cycles per bit (a 16-bit counter).
MAX_DIVISOR = 1 << 16


def check_divisor(divisor):
    """Validate clock cycles per bit; returns it. Raises ``ValueError`` naming the value."""
    if not isinstance(divisor, int) or isinstance(divisor, bool) or \
            not MIN_DIVISOR <= divisor <= MAX_DIVISOR:
        raise ValueError(f"UART divisor (clock cycles per bit) must be an integer between "
                         f"{MIN_DIVISOR} and {MAX_DIVISOR}, not {divisor!r}")
    return divisor


def divisor_for(clk_hz, baud):
    """Clock cycles per bit for ``baud`` at ``clk_hz`` (rounded; the error must stay within
    2 %, or ``ValueError`` says by how much it is off)."""
    divisor = check_divisor(round(clk_hz / baud))
    error = abs(clk_hz / divisor - baud) / baud
    if error > 0.02:
        raise ValueError(f"Baud rate {baud} is {100 * error:.1f} % off at {clk_hz:.0f} Hz "
                         f"(divisor {divisor}); the limit is 2 %")
    return divisor


class _DivisorChecked:
    """Checks ``divisor`` in ``__new__``: a rejected divisor raises before the component
    exists, so Amaranth does not report it as created but never used."""

    def __new__(cls, divisor):
        check_divisor(divisor)
        return super().__new__(cls, src_loc_at=1)   # warnings point at the caller


class UartTx(_DivisorChecked, wiring.Component):
    """Serialises bytes onto ``tx``.

    A byte taken from ``i`` in cycle ``t`` drives its start bit from cycle ``t + 1`` for
    ``divisor`` cycles, then bits 0..7 and the stop bit, ``divisor`` cycles each; ``i.ready``
    rises again in the cycle after the stop bit, so back-to-back characters are
    ``10 * divisor + 1`` cycles apart (one idle cycle between them). ``tx`` is a register.

    Attributes:
        i: In(stream.Signature(8)) -- bytes to send.
        tx: Out(1) -- the serial line, high when idle.
    """

    def __init__(self, divisor):
        self._divisor = divisor
        super().__init__({"i": In(stream.Signature(8)), "tx": Out(1, init=1)})

    @property
    def divisor(self):
        return self._divisor

    def elaborate(self, platform):
        m = Module()
        # The shift register fills with ones from the top, so once a character is out it
        # keeps the line high without a separate idle state.
        shreg = Signal(10, init=(1 << 10) - 1)
        bits = Signal(range(11))        # bits of the current character still to send
        timer = Signal(range(self._divisor))
        m.d.comb += [self.tx.eq(shreg[0]), self.i.ready.eq(bits == 0)]
        with m.If(bits == 0):
            with m.If(self.i.valid):
                m.d.sync += [shreg.eq(Cat(Const(0, 1), self.i.payload, Const(1, 1))),
                             bits.eq(10), timer.eq(self._divisor - 1)]
        with m.Elif(timer == 0):
            m.d.sync += [shreg.eq(Cat(shreg[1:], Const(1, 1))), bits.eq(bits - 1),
                         timer.eq(self._divisor - 1)]
        with m.Else():
            m.d.sync += timer.eq(timer - 1)
        return m


class UartRx(_DivisorChecked, wiring.Component):
    """Deserialises ``rx`` into bytes on ``o``.

    ``rx`` goes through a two-flip-flop synchroniser. A falling edge starts a character; the
    start bit is checked ``divisor // 2`` cycles later and every following bit one ``divisor``
    after the previous one, i.e. in the middle of each bit. A byte whose stop bit is high is
    put on ``o`` (a register: valid until taken); one whose stop bit is low is dropped and
    ``frame_error`` strobes, and the receiver waits for the line to go high again. A byte that
    completes while ``o`` still holds the previous one is dropped and ``overrun`` strobes: the
    consumer must take each byte within one character time (``10 * divisor`` cycles).

    Attributes:
        rx: In(1) -- the serial line.
        o: Out(stream.Signature(8)) -- received bytes.
        overrun: Out(1) -- one-cycle strobe: a byte was lost because ``o`` was full.
        frame_error: Out(1) -- one-cycle strobe: a character had a low stop bit.
    """

    def __init__(self, divisor):
        self._divisor = divisor
        super().__init__({"rx": In(1, init=1), "o": Out(stream.Signature(8)),
                          "overrun": Out(1), "frame_error": Out(1)})

    @property
    def divisor(self):
        return self._divisor

    def elaborate(self, platform):
        m = Module()
        line = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, line, init=1)
        timer = Signal(range(self._divisor))
        data = Signal(8)
        bits = Signal(range(8))
        m.d.sync += [self.overrun.eq(0), self.frame_error.eq(0)]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):
                    m.d.sync += timer.eq(self._divisor // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Elif(~line):
                    m.d.sync += [timer.eq(self._divisor - 1), bits.eq(0)]
                    m.next = "DATA"
                with m.Else():          # a glitch, not a start bit
                    m.next = "IDLE"
            with m.State("DATA"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    m.d.sync += [data.eq(Cat(data[1:], line)), bits.eq(bits + 1),
                                 timer.eq(self._divisor - 1)]
                    with m.If(bits == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Elif(line):
                    with m.If(self.o.valid & ~self.o.ready):
                        m.d.sync += self.overrun.eq(1)
                    with m.Else():
                        m.d.sync += [self.o.payload.eq(data), self.o.valid.eq(1)]
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += self.frame_error.eq(1)
                    m.next = "BREAK"
            with m.State("BREAK"):
                with m.If(line):
                    m.next = "IDLE"
        return m
