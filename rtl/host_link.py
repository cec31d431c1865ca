"""The host link core: byte frames from the host into the array, wavelets out of it back.

It sits between a byte transport (the UART) and the array's configuration chain and edge links.
Frames, every multi-byte field little-endian (the protocol is in docs/fpga.md; the Python side
is :mod:`wafer_engine.fabric.model.host_protocol`):

host to array:

=========  ====  ======================================================================
frame      type  payload
=========  ====  ======================================================================
CONFIG     0x01  4 bytes: one configuration-chain word
WAVELET    0x02  1 byte edge port, 5 bytes wavelet (bits 0..37; bits 38, 39 ignored)
FLUSH      0x03  none; answered by FLUSHED once every earlier frame was taken by the array
SYNC       0x04  none; answered by SYNCED once every earlier frame was taken, the array has
                 been quiet for ``quiet_cycles`` and every earlier OUTPUT frame was sent
RESET      0x05  none; resets the array, the cycle counter and the status flags
COUNTER    0x06  2 bytes tile (``row * cols + col``), 1 byte counter (``wafer_engine.rtl.pe.COUNTERS``
                 order); answered by COUNTER_VALUE
=========  ====  ======================================================================

array to host:

=========  ====  ======================================================================
OUTPUT     0x81  1 byte edge port, 5 bytes wavelet, 4 bytes cycle it left the array
FLUSHED    0x83  4 bytes cycle counter, 1 byte status (:class:`LinkStatus`)
SYNCED     0x84  4 bytes cycle counter, 1 byte status
COUNTER_   0x86  2 bytes tile, 1 byte counter, 4 bytes its value when the request was read
VALUE            (0, and ``bad_frame`` set, for a tile or counter out of range)
=========  ====  ======================================================================
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from wafer_engine.rtl.checks import check_int
from wafer_engine.rtl.config_chain import WORD_BITS
from wafer_engine.rtl.pe.ports import COUNTERS
from wafer_engine.rtl.ports import Port
from wafer_engine.rtl.wavelet import LinkSignature, Wavelet, check_colors

__all__ = ["FrameType", "LinkStatus", "HostLink", "array_edges", "check_link_params",
           "PAYLOAD_BYTES", "MAX_EDGES", "MAX_TILES", "TILE_BITS", "COUNTER_ID_BITS",
           "RESET_CYCLES", "default_quiet_cycles"]

#: Edge ports a frame can name (the port field is one byte).
MAX_EDGES = 255
#: Tiles a COUNTER frame can name: a 64 x 64 array, the largest the array generator makes.
MAX_TILES = 64 * 64
TILE_BITS = (MAX_TILES - 1).bit_length()
COUNTER_ID_BITS = (len(COUNTERS) - 1).bit_length()
#: Cycles the array is held in reset by a RESET frame.
RESET_CYCLES = 4
_WAVELET_BITS = Wavelet.as_shape().size
_STAMP_BITS = 32


class FrameType(enum.Enum, shape=8):
    """The first byte of every frame."""
    CONFIG = 0x01
    WAVELET = 0x02
    FLUSH = 0x03
    SYNC = 0x04
    RESET = 0x05
    COUNTER = 0x06
    OUTPUT = 0x81
    FLUSHED = 0x83
    SYNCED = 0x84
    COUNTER_VALUE = 0x86


#: Payload bytes after the type byte, per frame type.
PAYLOAD_BYTES = {FrameType.CONFIG: 4, FrameType.WAVELET: 6, FrameType.FLUSH: 0,
                 FrameType.SYNC: 0, FrameType.RESET: 0, FrameType.COUNTER: 3,
                 FrameType.OUTPUT: 10, FrameType.FLUSHED: 5, FrameType.SYNCED: 5,
                 FrameType.COUNTER_VALUE: 7}


class LinkStatus(data.Struct):
    """Sticky error flags, sent with every FLUSHED and SYNCED; cleared by RESET."""
    rx_overrun: 1       #: a received byte was lost (the host sent faster than the link reads)
    rx_frame_error: 1   #: a character had a low stop bit
    bad_frame: 1        #: an unknown type byte, an edge port, color, tile or counter out of
                        #: range
    reserved: 5


def array_edges(rows, cols):
    """The array's edge ports in frame port order: ``[(Port, position)]``, north edge
    columns first, then east rows, south columns, west rows (``ArrayModel.edges``' order)."""
    return [(side, n) for side in (Port.N, Port.E, Port.S, Port.W)
            for n in range(cols if side in (Port.N, Port.S) else rows)]


def default_quiet_cycles(rows, cols):
    """Quiet cycles that prove an R x C array idle: a wavelet crosses it in ``rows + cols``
    hops (one cycle each when nothing stalls), a configuration word reaches the last tile of
    the chain one cycle per tile after it entered, and an edge output waits up to one turn of
    the output scan (``2 * (rows + cols)`` cycles) before it may show; doubled, plus margin."""
    return 2 * (3 * (rows + cols) + rows * cols) + 32


def check_link_params(edges, colors, quiet_cycles, out_depth, tiles=1):
    """Validate :class:`HostLink` parameters; raises ``ValueError`` naming the bad value."""
    check_int(edges, 1, MAX_EDGES, "Edge port count")
    check_int(tiles, 1, MAX_TILES, "Tile count")
    check_colors(colors)
    check_int(quiet_cycles, 1, 1 << 16, "Quiet cycles")
    check_int(out_depth, 1, 64, "Output FIFO depth")


class HostLink(wiring.Component):
    """Frames from ``rx`` drive the configuration chain and the edge inputs; wavelets leaving
    the edges go out on ``tx`` as OUTPUT frames.

    Each edge input has one wavelet register: a WAVELET frame waits until its port's register
    is free, so frames are taken strictly in order (a color the array does not accept holds
    every frame behind it). Edge outputs are scanned one port per cycle (``ready`` all ones
    for the port whose turn it is while the output FIFO has room), so ``ready`` depends only on
    registers, as the link protocol requires. A 32-bit counter stamps each output with the
    cycle it left the array. A COUNTER frame puts its tile and counter on ``counter_tile`` and
    ``counter_id`` and answers with the ``counter_value`` the array returns for them (read the
    cycle after the frame's last byte, a combinational multiplexer in the array).

    Parameters: ``edges`` (1..255), ``colors`` (1..24), ``quiet_cycles`` (1..65536, see
    :func:`default_quiet_cycles`), ``out_depth`` (output FIFO, 1..64 wavelets), ``tiles``
    (1..4096: tiles whose counters COUNTER frames may read).

    Attributes:
        rx: In(stream.Signature(8)) -- bytes from the host.
        tx: Out(stream.Signature(8)) -- bytes to the host.
        cfg: Out(stream.Signature(32)) -- configuration words into the chain.
        edge_i: Out(LinkSignature(colors)).array(edges) -- into the array's edge inputs.
        edge_o: In(LinkSignature(colors)).array(edges) -- from the array's edge outputs.
        idle: In(1) -- every PE of the array is idle.
        array_rst: Out(1) -- hold the array in reset (a RESET frame).
        rx_overrun, rx_frame_error: In(1) -- error strobes of the byte receiver.
        counter_tile: Out(12), counter_id: Out(3) -- the PE counter a COUNTER frame asks for.
        counter_value: In(32) -- that counter's value.
    """

    def __new__(cls, *, edges, colors, quiet_cycles, out_depth=4, tiles=1):
        # Checked before the object exists, so a rejected one is not reported as unused.
        check_link_params(edges, colors, quiet_cycles, out_depth, tiles)
        return super().__new__(cls, src_loc_at=1)   # warnings point at the caller

    def __init__(self, *, edges, colors, quiet_cycles, out_depth=4, tiles=1):
        self._edges, self._colors, self._tiles = edges, colors, tiles
        self._quiet_cycles, self._out_depth = quiet_cycles, out_depth
        super().__init__({
            "rx": In(stream.Signature(8)),
            "tx": Out(stream.Signature(8)),
            "cfg": Out(stream.Signature(WORD_BITS)),
            "edge_i": Out(LinkSignature(colors)).array(edges),
            "edge_o": In(LinkSignature(colors)).array(edges),
            "idle": In(1),
            "array_rst": Out(1),
            "rx_overrun": In(1),
            "rx_frame_error": In(1),
            "counter_tile": Out(TILE_BITS),
            "counter_id": Out(COUNTER_ID_BITS),
            "counter_value": In(32),
        })

    @property
    def edges(self):
        return self._edges

    @property
    def colors(self):
        return self._colors

    @property
    def tiles(self):
        return self._tiles

    def elaborate(self, platform):
        m = Module()
        edges, colors = self._edges, self._colors
        cycle = Signal(_STAMP_BITS)
        status = Signal(LinkStatus)
        m.d.sync += cycle.eq(cycle + 1)
        with m.If(self.rx_overrun):
            m.d.sync += status.rx_overrun.eq(1)
        with m.If(self.rx_frame_error):
            m.d.sync += status.rx_frame_error.eq(1)

        # Edge inputs: one wavelet register per port; it empties when its color is ready.
        in_valid = Signal(edges)
        in_wavelet = Array(Signal(Wavelet, name=f"in_wavelet_{k}") for k in range(edges))
        for k in range(edges):
            link = self.edge_i[k]
            m.d.comb += [link.valid.eq(in_valid[k]), link.wavelet.eq(in_wavelet[k])]
            with m.If(in_valid[k] & (link.ready >> in_wavelet[k].color)[0]):
                m.d.sync += in_valid[k].eq(0)
        with m.If(self.cfg.valid & self.cfg.ready):
            m.d.sync += self.cfg.valid.eq(0)
        taken = (in_valid == 0) & ~self.cfg.valid

        # Edge outputs: one port per cycle may hand a wavelet to the output FIFO.
        m.submodules.out_fifo = out_fifo = SyncFIFO(
            width=8 + _WAVELET_BITS + _STAMP_BITS, depth=self._out_depth)
        turn = Signal(range(edges))
        out_port = Signal(8)
        m.d.sync += turn.eq(Mux(turn == edges - 1, 0, turn + 1))
        all_colors = (1 << colors) - 1
        out_valid = Array(self.edge_o[k].valid for k in range(edges))
        out_wavelet = Array(self.edge_o[k].wavelet for k in range(edges))
        for k in range(edges):
            m.d.comb += self.edge_o[k].ready.eq(Mux((turn == k) & out_fifo.w_rdy,
                                                    all_colors, 0))
        m.d.comb += [
            out_fifo.w_en.eq(out_valid[turn] & out_fifo.w_rdy),
            out_port.eq(turn),
            out_fifo.w_data.eq(Cat(out_port, out_wavelet[turn], cycle)),
        ]

        # Quiet: no PE busy, nothing offered at an edge output or waiting at an edge input.
        quiet = Signal(range(self._quiet_cycles + 1))
        offered = Cat(self.edge_o[k].valid for k in range(edges)).any()
        with m.If(~self.idle | offered | ~taken | self.array_rst):
            m.d.sync += quiet.eq(0)
        with m.Elif(quiet != self._quiet_cycles):
            m.d.sync += quiet.eq(quiet + 1)

        # Transmit framer: a reply (FLUSHED, SYNCED) or an OUTPUT frame, one byte at a time.
        reply_req = Signal()
        reply_type = Signal(FrameType, init=FrameType.FLUSHED)
        reply_counter = Signal(8 * PAYLOAD_BYTES[FrameType.COUNTER_VALUE])   # its whole payload
        frame = Signal(8 * (1 + PAYLOAD_BYTES[FrameType.OUTPUT]))
        left = Signal(range(len(frame) // 8 + 1))
        m.d.comb += [self.tx.valid.eq(left != 0), self.tx.payload.eq(frame[:8])]
        with m.If(self.tx.valid & self.tx.ready):
            m.d.sync += [frame.eq(frame >> 8), left.eq(left - 1)]
        with m.Elif(left == 0):
            with m.If(reply_req & (reply_type == FrameType.COUNTER_VALUE)):
                m.d.sync += [frame.eq(Cat(reply_type, reply_counter)),
                             left.eq(1 + PAYLOAD_BYTES[FrameType.COUNTER_VALUE]),
                             reply_req.eq(0)]
            with m.Elif(reply_req):
                m.d.sync += [frame.eq(Cat(reply_type, cycle, status)),
                             left.eq(1 + PAYLOAD_BYTES[FrameType.FLUSHED]), reply_req.eq(0)]
            with m.Elif(out_fifo.r_rdy):
                m.d.comb += out_fifo.r_en.eq(1)
                # The wavelet is padded to 5 whole bytes before the stamp.
                port_wavelet = out_fifo.r_data[:8 + _WAVELET_BITS]
                stamp = out_fifo.r_data[8 + _WAVELET_BITS:]
                m.d.sync += [frame.eq(Cat(Const(FrameType.OUTPUT.value, 8), port_wavelet,
                                          Const(0, 40 - _WAVELET_BITS), stamp)),
                             left.eq(1 + PAYLOAD_BYTES[FrameType.OUTPUT])]
        sent_all = (left == 0) & ~out_fifo.r_rdy

        # Receive parser.
        buf = Signal(48)                # payload bytes, the last one received at the top
        need = Signal(range(7))
        kind = Signal(FrameType, init=FrameType.CONFIG)
        reset_timer = Signal(range(RESET_CYCLES))
        port = buf[:8]
        wavelet = Wavelet(buf[8:8 + _WAVELET_BITS])
        tile, counter = buf[24:40], buf[40:48]          # a COUNTER frame's 3 bytes
        counter_ok = (tile < self._tiles) & (counter < len(COUNTERS))
        m.d.comb += [self.counter_tile.eq(tile), self.counter_id.eq(counter)]

        def reply(kind):
            with m.If(~reply_req):
                m.d.sync += [reply_req.eq(1), reply_type.eq(kind)]
                m.next = "TYPE"

        with m.FSM():
            with m.State("TYPE"):
                m.d.comb += self.rx.ready.eq(1)
                with m.If(self.rx.valid):
                    with m.Switch(self.rx.payload):
                        for t in (FrameType.CONFIG, FrameType.WAVELET, FrameType.COUNTER):
                            with m.Case(t.value):
                                m.d.sync += [kind.eq(t), need.eq(PAYLOAD_BYTES[t])]
                                m.next = "PAYLOAD"
                        for t in (FrameType.FLUSH, FrameType.SYNC):
                            with m.Case(t.value):
                                m.next = t.name
                        with m.Case(FrameType.RESET.value):
                            m.d.sync += reset_timer.eq(RESET_CYCLES - 1)
                            m.next = "RESET"
                        with m.Default():
                            m.d.sync += status.bad_frame.eq(1)
            with m.State("PAYLOAD"):
                m.d.comb += self.rx.ready.eq(1)
                with m.If(self.rx.valid):
                    m.d.sync += [buf.eq(Cat(buf[8:], self.rx.payload)), need.eq(need - 1)]
                    with m.If(need == 1):
                        m.next = "DELIVER"
            with m.State("DELIVER"):
                with m.If(kind == FrameType.CONFIG):
                    with m.If(~self.cfg.valid):
                        m.d.sync += [self.cfg.valid.eq(1), self.cfg.payload.eq(buf[16:48])]
                        m.next = "TYPE"
                with m.Elif(kind == FrameType.COUNTER):
                    with m.If(~reply_req):
                        value = Mux(counter_ok, self.counter_value, 0)
                        m.d.sync += [reply_req.eq(1), reply_type.eq(FrameType.COUNTER_VALUE),
                                     reply_counter.eq(Cat(tile, counter, value))]
                        with m.If(~counter_ok):
                            m.d.sync += status.bad_frame.eq(1)
                        m.next = "TYPE"
                with m.Elif((port >= edges) | (wavelet.color >= colors)):
                    m.d.sync += status.bad_frame.eq(1)
                    m.next = "TYPE"
                with m.Else():
                    with m.Switch(port):
                        for k in range(edges):
                            with m.Case(k):
                                with m.If(~in_valid[k]):
                                    m.d.sync += [in_valid[k].eq(1), in_wavelet[k].eq(wavelet)]
                                    m.next = "TYPE"
            with m.State("FLUSH"):
                with m.If(taken):
                    reply(FrameType.FLUSHED)
            with m.State("SYNC"):
                with m.If(taken & (quiet == self._quiet_cycles) & sent_all):
                    reply(FrameType.SYNCED)
            with m.State("RESET"):
                m.d.comb += self.array_rst.eq(1)
                m.d.sync += [reset_timer.eq(reset_timer - 1), cycle.eq(0), status.eq(0),
                             in_valid.eq(0), self.cfg.valid.eq(0)]
                with m.If(reset_timer == 0):
                    m.next = "TYPE"
        return m
