"""The array with its UART host link: everything of a board top but the clock and the pins."""

from amaranth.hdl import ClockSignal, Instance, Module, ResetSignal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from wafer_engine.rtl.checks import check_int
from wafer_engine.rtl.host_link import (HostLink, array_edges, check_link_params,
                                        default_quiet_cycles)
from wafer_engine.rtl.ports import Port
from wafer_engine.rtl.uart import UartRx, UartTx, check_divisor

__all__ = ["LinkTop", "ARRAY_MODULE"]

#: The array module the top instantiates (``wafer_engine.sw.flows.host_array`` writes it).
ARRAY_MODULE = "wafer_array_idle"
_SIDE = {Port.N: "n", Port.E: "e", Port.S: "s", Port.W: "w"}


def _link_args(rows, cols, colors, divisor, rx_depth, quiet_cycles):
    """The :class:`HostLink` parameters of a :class:`LinkTop`, every parameter checked
    (``ValueError`` naming the first bad one)."""
    for name, value in (("Row count", rows), ("Column count", cols)):
        check_int(value, 1, 64, name)
    check_int(rx_depth, 2, 4096, "Receive FIFO depth (bytes)")
    args = dict(edges=len(array_edges(rows, cols)), colors=colors, tiles=rows * cols,
                quiet_cycles=quiet_cycles or default_quiet_cycles(rows, cols))
    check_link_params(**args, out_depth=4)
    check_divisor(divisor)
    return args


class LinkTop(wiring.Component):
    """UART receiver -> byte FIFO -> :class:`~wafer_engine.rtl.host_link.HostLink` -> UART transmitter,
    around an instance of the ``rows`` x ``cols`` array (module :data:`ARRAY_MODULE`, whose
    Verilog must be added to the build; the link reads its PE counters through the module's
    counter port).

    The receive FIFO (``rx_depth`` bytes, 2..4096) lets the link core stall on a busy edge or
    chain without losing bytes; the host keeps at most ``rx_depth - 1`` bytes in flight
    between FLUSH replies. ``divisor`` is clock cycles per bit, ``quiet_cycles`` defaults to
    :func:`~wafer_engine.rtl.host_link.default_quiet_cycles`.

    Attributes:
        rx: In(1) -- serial line from the host.
        tx: Out(1) -- serial line to the host.
    """

    rx: In(1, init=1)
    tx: Out(1, init=1)

    def __new__(cls, *, rows, cols, colors, divisor, rx_depth=64, quiet_cycles=None):
        # Checked before the object exists, so a rejected one is not reported as unused.
        _link_args(rows, cols, colors, divisor, rx_depth, quiet_cycles)
        return super().__new__(cls, src_loc_at=1)   # warnings point at the caller

    def __init__(self, *, rows, cols, colors, divisor, rx_depth=64, quiet_cycles=None):
        self._edges = array_edges(rows, cols)
        self._link_args = _link_args(rows, cols, colors, divisor, rx_depth, quiet_cycles)
        self._divisor, self._rx_depth = divisor, rx_depth
        super().__init__()

    @property
    def edges(self):
        """The array's edge ports in frame port order."""
        return list(self._edges)

    def elaborate(self, platform):
        m = Module()
        m.submodules.uart_rx = uart_rx = UartRx(self._divisor)
        m.submodules.uart_tx = uart_tx = UartTx(self._divisor)
        m.submodules.rx_fifo = rx_fifo = SyncFIFO(width=8, depth=self._rx_depth)
        m.submodules.link = link = HostLink(**self._link_args)
        m.d.comb += [
            uart_rx.rx.eq(self.rx),
            self.tx.eq(uart_tx.tx),
            link.rx_overrun.eq(uart_rx.overrun),
            link.rx_frame_error.eq(uart_rx.frame_error),
        ]
        wiring.connect(m, uart_rx.o, rx_fifo.w_stream)
        wiring.connect(m, rx_fifo.r_stream, link.rx)
        wiring.connect(m, link.tx, uart_tx.i)

        # Boards with a reset-less default domain start from the bitstream's initial values;
        # the host's RESET frame resets the array either way.
        reset = ResetSignal(allow_reset_less=True) | link.array_rst
        ports = dict(i_clk=ClockSignal(), i_rst=reset, o_idle=link.idle,
                     i_cfg_i__valid=link.cfg.valid, i_cfg_i__payload=link.cfg.payload,
                     o_cfg_i__ready=link.cfg.ready, i_cfg_o__ready=1,
                     i_counter_tile=link.counter_tile, i_counter_id=link.counter_id,
                     o_counter_value=link.counter_value)
        for k, (side, n) in enumerate(self._edges):
            into, out = f"{_SIDE[side]}_i__{n}__", f"{_SIDE[side]}_o__{n}__"
            ports.update({
                f"i_{into}valid": link.edge_i[k].valid,
                f"i_{into}wavelet": link.edge_i[k].wavelet.as_value(),
                f"o_{into}ready": link.edge_i[k].ready,
                f"o_{out}valid": link.edge_o[k].valid,
                f"o_{out}wavelet": link.edge_o[k].wavelet.as_value(),
                f"i_{out}ready": link.edge_o[k].ready,
            })
        m.submodules.array = Instance(ARRAY_MODULE, **ports)
        return m
