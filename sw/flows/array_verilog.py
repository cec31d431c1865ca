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

__all__ = ["TOP_NAME", "array_ports", "array_body", "array_top_verilog", "verilog_module",
           "write_array_verilog", "edge_port"]

#: Module name of the array's top level.
TOP_NAME = "wafer_array"
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


def write_array_verilog(params, out_dir):
    """Write ``out_dir/wafer_array.v`` for the array ``params`` (an
    :class:`~wafer_engine.rtl.params.ArrayParams`): the ``tile`` module (and its submodules) and
    the ``wafer_array`` top. Returns ``(path, seconds)``: the file and the generation time."""
    start = time.perf_counter()
    text = verilog.convert(Tile(params), name="tile", emit_src=False)
    text += "\n" + array_top_verilog(params)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{TOP_NAME}.v"
    write_if_changed(path, text)
    return path, time.perf_counter() - start
