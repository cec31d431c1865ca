"""A board top: the array with its UART host link on a board's clock and UART pins."""

from amaranth.hdl import Elaboratable, Module

from wafer_engine.rtl.uart import divisor_for
from wafer_engine.rtl.board.link_top import ARRAY_MODULE, LinkTop

__all__ = ["BoardTop"]


class BoardTop(Elaboratable):
    """:class:`LinkTop` on an amaranth-boards platform: its default clock drives everything,
    ``uart`` 0 is the host link at ``baud`` (the divisor comes from the board's clock).
    ``array_verilog`` is the text of the array module (``wafer_engine.sw.flows.host_array``), added to the
    build as a source file."""

    def __init__(self, *, rows, cols, colors, array_verilog, baud=115200):
        self._rows, self._cols, self._colors = rows, cols, colors
        self._array_verilog, self._baud = array_verilog, baud

    def elaborate(self, platform):
        m = Module()
        divisor = divisor_for(platform.default_clk_frequency, self._baud)
        m.submodules.core = core = LinkTop(rows=self._rows, cols=self._cols,
                                           colors=self._colors, divisor=divisor)
        uart = platform.request("uart", 0)
        m.d.comb += [core.rx.eq(uart.rx.i), uart.tx.o.eq(core.tx)]
        platform.add_file(f"{ARRAY_MODULE}.v", self._array_verilog)
        return m
