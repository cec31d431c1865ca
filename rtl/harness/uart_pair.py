"""The UART's transmitter and receiver side by side, the unit the UART testbench runs on."""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from wafer_engine.rtl.uart import UartRx, UartTx

__all__ = ["UartPair"]


class UartPair(wiring.Component):
    """An independent :class:`UartTx` (``i`` -> ``tx``) and :class:`UartRx` (``rx`` -> ``o``,
    with its ``overrun`` and ``frame_error`` strobes)."""

    def __init__(self, divisor):
        self._divisor = divisor
        super().__init__({
            "i": In(stream.Signature(8)), "tx": Out(1),
            "rx": In(1, init=1), "o": Out(stream.Signature(8)),
            "overrun": Out(1), "frame_error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.tx = tx = UartTx(self._divisor)
        m.submodules.rx = rx = UartRx(self._divisor)
        wiring.connect(m, wiring.flipped(self.i), tx.i)
        wiring.connect(m, rx.o, wiring.flipped(self.o))
        m.d.comb += [self.tx.eq(tx.tx), rx.rx.eq(self.rx), self.overrun.eq(rx.overrun),
                     self.frame_error.eq(rx.frame_error)]
        return m
