"""The R x C array of tiles as Verilog: one ``tile`` module, instantiated R x C times.

The ``tile`` module comes from Amaranth (:class:`wafer_engine.rtl.tile.Tile`). The top, ``wafer_array``, is
pure structure (wires between neighbouring tiles, edge ports, the configuration chain threaded
through the tiles in :func:`wafer_engine.fabric.program.program.chain_order`) and is written directly as text: going
through Amaranth and Yosys for R x C instances took 42 s for 64 x 64, where text takes well
under a second. Only the instance list grows with the array.

Top-level ports (``W`` = 38-bit wavelet, ``K`` = colors):

- ``n_i__<c>__valid``, ``n_i__<c>__wavelet[W]`` in, ``n_i__<c>__ready[K]`` out: the link entering
  the north edge at column ``c``; ``n_o__<c>__*`` the link leaving it. Likewise ``s_*`` (south,
  per column), ``w_*`` and ``e_*`` (west and east, per row).
- ``cfg_i__valid``, ``cfg_i__payload[32]`` in, ``cfg_i__ready`` out: configuration words into tile
  (0, 0); ``cfg_o__*``: words that passed the last tile.
- ``clk``, ``rst``.

:func:`array_ports` lists them (direction, name, width); the header is written from that list,
and the iCE40 pin wrapper takes the same list.

Two forms of the same top, with the same ports and the same behaviour:

- flat (:func:`array_top_verilog`): ``wafer_array`` instantiates every tile itself, and every
  link and counter is a named wire of the top (``t<r>_<c>_<port>_valid``, ``t<r>_<c>_idle``,
  ...), which the cocotb array driver reads through Verilator's flat public access. Its size
  grows with R x C (9.5 MB for 64 x 64), so it stops being practical well before wafer size.
- hierarchical (:func:`array_rows_verilog`): a row module instantiates the C tiles of a row
  (``wafer_row_east`` where the chain runs west to east, ``wafer_row_west`` for the other
  rows of the snake), and ``wafer_array`` instantiates one row module per row, joined by
  vector wires. Only the number of rows and columns grows the text, not their product.

:func:`write_array_verilog` writes the flat form up to :data:`FLAT_TILES_MAX` tiles (every
array that is simulated) and the hierarchical form above it.
"""

import time
from pathlib import Path

from amaranth.back import verilog

from wafer_engine.rtl.config_chain import WORD_BITS
from wafer_engine.rtl.pe import COUNTERS
from wafer_engine.rtl.ports import Port
from wafer_engine.rtl.tile import MESH_PORTS, Tile
from wafer_engine.rtl.wavelet import Wavelet

from wafer_engine.fabric.program.program import chain_order, edge_of, neighbour
from wafer_engine.sw.flows.verilog import write_if_changed

__all__ = ["TOP_NAME", "ROW_NAMES", "FLAT_TILES_MAX", "array_ports", "array_body",
           "array_top_verilog", "row_ports", "row_verilog", "array_rows_verilog",
           "verilog_module", "write_array_verilog", "edge_port"]

#: Module name of the array's top level.
TOP_NAME = "wafer_array"
#: Row module names of the hierarchical form, by the direction the chain runs in the row.
ROW_NAMES = {"east": "wafer_row_east", "west": "wafer_row_west"}
#: Largest array (tiles) written flat by default: 64 x 64, the largest simulated or benchmarked
#: flat (docs/results.md); above it the hierarchical form.
FLAT_TILES_MAX = 64 * 64
_WAVELET_BITS = Wavelet.as_shape().size
_SIDE = {Port.N: "n", Port.E: "e", Port.S: "s", Port.W: "w"}


def edge_port(tile, port):
    """Name prefix of the top's edge links that ``port`` of ``tile`` faces, without the
    ``_i``/``_o`` direction: ``("n", column)`` style, as ``"n", 3``."""
    port, position = edge_of(tile, port)
    return _SIDE[port], position


def array_ports(params):
    """The ``wafer_array`` ports of the array ``params`` (an
    :class:`~wafer_engine.rtl.params.ArrayParams`), in header order:
    ``[(direction, name, width)]``, direction ``"input"`` or ``"output"``, width in bits. The
    module header is written from this list, so the two always agree."""
    rows, cols, colors = params.rows, params.cols, params.colors
    w, k = _WAVELET_BITS, colors
    ports = [("input", "clk", 1), ("input", "rst", 1)]
    for side, length in (("n", cols), ("e", rows), ("s", cols), ("w", rows)):
        for n in range(length):
            ports += [("input", f"{side}_i__{n}__valid", 1),
                      ("input", f"{side}_i__{n}__wavelet", w),
                      ("output", f"{side}_i__{n}__ready", k),
                      ("output", f"{side}_o__{n}__valid", 1),
                      ("output", f"{side}_o__{n}__wavelet", w),
                      ("input", f"{side}_o__{n}__ready", k)]
    for name, direction in (("cfg_i", ("input", "output")), ("cfg_o", ("output", "input"))):
        ports += [(direction[0], f"{name}__valid", 1),
                  (direction[0], f"{name}__payload", WORD_BITS),
                  (direction[1], f"{name}__ready", 1)]
    return ports


def verilog_module(name, ports, body):
    """Text of Verilog module ``name`` with ``ports`` (as :func:`array_ports` returns them)
    declared in its header and ``body`` (lines) inside."""
    decls = [f"  {d} {'[%d:0] ' % (w - 1) if w > 1 else ''}{n};" for d, n, w in ports]
    header = f"module {name}(" + ", ".join(n for _, n, _ in ports) + ");"
    return "\n".join([header] + decls + list(body) + ["endmodule", ""])


def array_body(params):
    """The inside of ``wafer_array`` (lines): the wires between tiles and the R x C ``tile``
    instances. Each tile's counters and ``idle`` go to wires ``t<r>_<c>_<counter>`` and
    ``t<r>_<c>_idle`` that testbenches read and :mod:`wafer_engine.sw.flows.host_array`
    connects."""
    rows, cols, colors = params.rows, params.cols, params.colors
    inside = lambda t: 0 <= t[0] < rows and 0 <= t[1] < cols
    w, k = _WAVELET_BITS, colors
    body = []
    # Wires of the link that tile (r, c) drives out of its port p: t<r>_<c>_<p>_*.
    for r in range(rows):
        for c in range(cols):
            for p in MESH_PORTS:
                if inside(neighbour((r, c), p)):
                    name = f"t{r}_{c}_{p.name}"
                    body += [f"  wire {name}_valid;", f"  wire [{w - 1}:0] {name}_wavelet;",
                             f"  wire [{k - 1}:0] {name}_ready;"]
    order = chain_order(rows, cols)
    for n in range(1, len(order)):
        body += [f"  wire cfg{n}_valid;", f"  wire [{WORD_BITS - 1}:0] cfg{n}_payload;",
                 f"  wire cfg{n}_ready;"]

    def chain(n, member):
        if n == 0:
            return f"cfg_i__{member}"
        if n == len(order):
            return f"cfg_o__{member}"
        return f"cfg{n}_{member}"

    for n, tile in enumerate(order):
        conns = [".clk(clk)", ".rst(rst)"]
        for m, p in enumerate(MESH_PORTS):
            other = neighbour(tile, p)
            if inside(other):
                out = f"t{tile[0]}_{tile[1]}_{p.name}"
                inn = f"t{other[0]}_{other[1]}_{p.opposite.name}"
                i_valid, i_wavelet, i_ready = (f"{inn}_valid", f"{inn}_wavelet", f"{inn}_ready")
                o_valid, o_wavelet, o_ready = (f"{out}_valid", f"{out}_wavelet", f"{out}_ready")
            else:
                side, pos = edge_port(tile, p)
                i_valid, i_wavelet, i_ready = (f"{side}_i__{pos}__valid",
                                               f"{side}_i__{pos}__wavelet",
                                               f"{side}_i__{pos}__ready")
                o_valid, o_wavelet, o_ready = (f"{side}_o__{pos}__valid",
                                               f"{side}_o__{pos}__wavelet",
                                               f"{side}_o__{pos}__ready")
            # A tile's input ready is the wire of the link its neighbour drives toward it.
            conns += [f".i__{m}__valid({i_valid})", f".i__{m}__wavelet({i_wavelet})",
                      f".i__{m}__ready({i_ready})", f".o__{m}__valid({o_valid})",
                      f".o__{m}__wavelet({o_wavelet})", f".o__{m}__ready({o_ready})"]
        conns += [f".cfg_i__valid({chain(n, 'valid')})", f".cfg_i__payload({chain(n, 'payload')})",
                  f".cfg_i__ready({chain(n, 'ready')})",
                  f".cfg_o__valid({chain(n + 1, 'valid')})",
                  f".cfg_o__payload({chain(n + 1, 'payload')})",
                  f".cfg_o__ready({chain(n + 1, 'ready')})"]
        # Counters and idle go to named wires that testbenches read (t<r>_<c>_<counter>).
        stem = f"t{tile[0]}_{tile[1]}"
        body += [f"  wire [31:0] {stem}_{name};" for name in COUNTERS] + [f"  wire {stem}_idle;"]
        conns += [f".counters__{name}({stem}_{name})" for name in COUNTERS]
        conns.append(f".idle({stem}_idle)")
        body.append(f"  tile tile_{tile[0]}_{tile[1]} (\n    " + ",\n    ".join(conns) + "\n  );")

    return body


def array_top_verilog(params):
    """The ``wafer_array`` module text for the array ``params`` (its rows, columns and
    colors)."""
    return verilog_module(TOP_NAME, array_ports(params), array_body(params))


def _select(name, index, width, total):
    """Verilog for element ``index`` (``width`` bits) of the vector ``name`` of ``total`` bits."""
    if width == total:
        return name
    return f"{name}[{(index + 1) * width - 1}:{index * width}]"


def _wire(name, width):
    return f"  wire {'[%d:0] ' % (width - 1) if width > 1 else ''}{name};"


def _link_signals(prefix):
    """The three signal names of a link: ``(valid, wavelet, ready)``."""
    return (f"{prefix}valid", f"{prefix}wavelet", f"{prefix}ready")


def row_ports(params):
    """Ports of a row module of the array ``params``: ``[(direction, name, width)]``.

    ``n_i__valid`` (C bits), ``n_i__wavelet`` (C x 38) in and ``n_i__ready`` (C x K) out are
    the C links entering the row from the north, column ``c`` at bits ``c * width``;
    ``n_o__*`` the links leaving it; likewise ``s_*``. ``w_*`` and ``e_*`` are the row's single
    links at its west and east ends, ``cfg_i__*`` / ``cfg_o__*`` the chain into and out of the
    row, named as on the top."""
    cols, w, k = params.cols, _WAVELET_BITS, params.colors
    ports = [("input", "clk", 1), ("input", "rst", 1)]
    for side, n in (("n", cols), ("s", cols), ("w", 1), ("e", 1)):
        ports += [("input", f"{side}_i__valid", n), ("input", f"{side}_i__wavelet", n * w),
                  ("output", f"{side}_i__ready", n * k), ("output", f"{side}_o__valid", n),
                  ("output", f"{side}_o__wavelet", n * w), ("input", f"{side}_o__ready", n * k)]
    for name, direction in (("cfg_i", ("input", "output")), ("cfg_o", ("output", "input"))):
        ports += [(direction[0], f"{name}__valid", 1),
                  (direction[0], f"{name}__payload", WORD_BITS),
                  (direction[1], f"{name}__ready", 1)]
    return ports


def row_verilog(params, direction):
    """Text of the row module ``ROW_NAMES[direction]``: the C tiles of one row, the
    configuration chain running ``"east"`` (enters at column 0) or ``"west"`` (enters at
    column C - 1). Inside the row, tile ``c``'s links and counters are wires
    ``t<c>_<port>_*``, ``t<c>_<counter>``, ``t<c>_idle``."""
    if direction not in ROW_NAMES:
        raise ValueError(f"Row direction must be 'east' or 'west', not {direction!r}")
    cols, w, k = params.cols, _WAVELET_BITS, params.colors
    body = []
    for c in range(cols):
        for p, other in ((Port.E, c + 1), (Port.W, c - 1)):
            if 0 <= other < cols:
                body += [_wire(f"t{c}_{p.name}_valid", 1), _wire(f"t{c}_{p.name}_wavelet", w),
                         _wire(f"t{c}_{p.name}_ready", k)]
    for n in range(1, cols):
        body += [_wire(f"cfg{n}_valid", 1), _wire(f"cfg{n}_payload", WORD_BITS),
                 _wire(f"cfg{n}_ready", 1)]
    order = range(cols) if direction == "east" else range(cols - 1, -1, -1)

    def chain(n, member):
        if n == 0:
            return f"cfg_i__{member}"
        return f"cfg_o__{member}" if n == cols else f"cfg{n}_{member}"

    for n, c in enumerate(order):
        conns = [".clk(clk)", ".rst(rst)"]
        for m, p in enumerate(MESH_PORTS):
            if p in (Port.N, Port.S):
                side = _SIDE[p]
                sel = lambda name, width: _select(name, c, width, cols * width)
                ins = [sel(f"{side}_i__valid", 1), sel(f"{side}_i__wavelet", w),
                       sel(f"{side}_i__ready", k)]
                outs = [sel(f"{side}_o__valid", 1), sel(f"{side}_o__wavelet", w),
                        sel(f"{side}_o__ready", k)]
            else:
                other = c + (1 if p == Port.E else -1)
                if 0 <= other < cols:
                    ins = _link_signals(f"t{other}_{p.opposite.name}_")
                    outs = _link_signals(f"t{c}_{p.name}_")
                else:
                    ins = _link_signals(f"{_SIDE[p]}_i__")
                    outs = _link_signals(f"{_SIDE[p]}_o__")
            conns += [f".i__{m}__valid({ins[0]})", f".i__{m}__wavelet({ins[1]})",
                      f".i__{m}__ready({ins[2]})", f".o__{m}__valid({outs[0]})",
                      f".o__{m}__wavelet({outs[1]})", f".o__{m}__ready({outs[2]})"]
        conns += [f".cfg_i__{x}({chain(n, x)})" for x in ("valid", "payload", "ready")]
        conns += [f".cfg_o__{x}({chain(n + 1, x)})" for x in ("valid", "payload", "ready")]
        body += [_wire(f"t{c}_{name}", 32) for name in COUNTERS] + [_wire(f"t{c}_idle", 1)]
        conns += [f".counters__{name}(t{c}_{name})" for name in COUNTERS]
        conns.append(f".idle(t{c}_idle)")
        body.append(f"  tile tile_{c} (" + ", ".join(conns) + ");")
    return verilog_module(ROW_NAMES[direction], row_ports(params), body)


def array_rows_verilog(params):
    """The hierarchical ``wafer_array`` for the array ``params``: the row modules it needs
    and the top, which instantiates row ``r`` as ``row_<r>`` (``wafer_row_east`` for even
    ``r``, ``wafer_row_west`` for odd: the chain's snake of
    :func:`~wafer_engine.fabric.program.program.chain_order`). The top has the ports of
    :func:`array_ports`; the vertical links between rows ``r`` and ``r + 1`` are vector wires
    ``r<r>_S_*`` (driven south by row ``r``) and ``r<r+1>_N_*``."""
    rows, cols, w, k = params.rows, params.cols, _WAVELET_BITS, params.colors
    directions = ["east" if r % 2 == 0 else "west" for r in range(rows)]
    modules = [row_verilog(params, d) for d in ROW_NAMES if d in directions]
    body = []
    widths = {"valid": 1, "wavelet": w, "ready": k}
    for r in range(rows):
        for p, other in ((Port.N, r - 1), (Port.S, r + 1)):
            if 0 <= other < rows:
                body += [_wire(f"r{r}_{p.name}_{x}", cols * n) for x, n in widths.items()]
    # The north and south edge ports gathered into the row ports' vectors.
    for side in ("n", "s"):
        for link in ("i", "o"):
            bus = f"{side}_{link}_bus_"
            body += [_wire(bus + x, cols * n) for x, n in widths.items()]
            for c in range(cols):
                for x, n in widths.items():
                    into_row = (x == "ready") == (link == "o")
                    part, port = _select(bus + x, c, n, cols * n), f"{side}_{link}__{c}__{x}"
                    body.append(f"  assign {part} = {port};" if into_row
                                else f"  assign {port} = {part};")
    for r in range(1, rows):
        body += [_wire(f"cfgrow{r}_valid", 1), _wire(f"cfgrow{r}_payload", WORD_BITS),
                 _wire(f"cfgrow{r}_ready", 1)]

    def chain(r, member):
        if r == 0:
            return f"cfg_i__{member}"
        return f"cfg_o__{member}" if r == rows else f"cfgrow{r}_{member}"

    for r in range(rows):
        conns = [".clk(clk)", ".rst(rst)"]
        for p, other in ((Port.N, r - 1), (Port.S, r + 1)):
            side = _SIDE[p]
            if 0 <= other < rows:
                ins = _link_signals(f"r{other}_{p.opposite.name}_")
                outs = _link_signals(f"r{r}_{p.name}_")
            else:
                ins, outs = _link_signals(f"{side}_i_bus_"), _link_signals(f"{side}_o_bus_")
            conns += [f".{side}_i__{x}({s})" for x, s in zip(widths, ins)]
            conns += [f".{side}_o__{x}({s})" for x, s in zip(widths, outs)]
        for side in ("w", "e"):
            conns += [f".{side}_{link}__{x}({side}_{link}__{r}__{x})"
                      for link in ("i", "o") for x in widths]
        conns += [f".cfg_i__{x}({chain(r, x)})" for x in ("valid", "payload", "ready")]
        conns += [f".cfg_o__{x}({chain(r + 1, x)})" for x in ("valid", "payload", "ready")]
        body.append(f"  {ROW_NAMES[directions[r]]} row_{r} (" + ", ".join(conns) + ");")
    return "\n".join(modules + [verilog_module(TOP_NAME, array_ports(params), body)])


def write_array_verilog(params, out_dir, hierarchical=None):
    """Write ``out_dir/wafer_array.v`` for the array ``params`` (an
    :class:`~wafer_engine.rtl.params.ArrayParams`): the ``tile`` module (and its submodules) and
    the ``wafer_array`` top, flat (``hierarchical=False``) or built from row modules
    (``True``); ``None`` chooses flat up to :data:`FLAT_TILES_MAX` tiles. Returns ``(path,
    seconds)``: the file and the generation time."""
    if hierarchical not in (None, False, True):
        raise ValueError(f"hierarchical must be None, False or True, not {hierarchical!r}")
    if hierarchical is None:
        hierarchical = params.tiles > FLAT_TILES_MAX
    start = time.perf_counter()
    text = verilog.convert(Tile(params), name="tile", emit_src=False)
    text += "\n" + (array_rows_verilog(params) if hierarchical else array_top_verilog(params))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{TOP_NAME}.v"
    write_if_changed(path, text)
    return path, time.perf_counter() - start
