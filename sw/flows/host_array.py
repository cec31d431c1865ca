"""The array Verilog for the host link: the array's tiles plus an ``idle`` output and a
counter read port.

The host link needs to know when the array has gone quiet and to read the PE counters. The
top :data:`HOST_ARRAY_NAME` has the ports of ``wafer_array``
(:func:`~wafer_engine.sw.flows.array_verilog.array_ports`) and more: ``idle``, high when every
tile is idle, and the counter read port: ``counter_value`` (32 bits, combinational) is the
counter ``counter_id`` (:data:`wafer_engine.rtl.pe.COUNTERS` order) of tile ``counter_tile``
(``row * cols + col``), 0 for a tile outside the array. Inside, the tiles and their wiring
are the array's own (:func:`~wafer_engine.sw.flows.array_verilog.array_body`); the extra logic
is Amaranth's: a :class:`~wafer_engine.rtl.counter_read.CounterSelect` beside each tile, one
:class:`~wafer_engine.rtl.counter_read.TileCounterSelect` over the tiles and an
:class:`~wafer_engine.rtl.all_idle.AllIdle`, each converted once and instantiated by module
name, as the tile is.
"""

from pathlib import Path

from amaranth.back import verilog

from wafer_engine.rtl.all_idle import AllIdle
from wafer_engine.rtl.board.link_top import ARRAY_MODULE
from wafer_engine.rtl.counter_read import (COUNTER_BITS, CounterSelect, TileCounterSelect,
                                           check_tile_count)
from wafer_engine.rtl.host_link import COUNTER_ID_BITS, TILE_BITS
from wafer_engine.rtl.pe import COUNTERS

from wafer_engine.sw.flows.array_verilog import (array_body, array_ports, array_top_verilog,
                                                 verilog_module, write_array_verilog)
from wafer_engine.sw.flows.verilog import write_if_changed

__all__ = ["HOST_ARRAY_NAME", "COUNTER_SELECT_NAME", "TILE_SELECT_NAME", "ALL_IDLE_NAME",
           "host_array_ports", "host_array_top_verilog", "host_array_components",
           "write_host_array_verilog"]

#: Module name of the array with ``idle`` and the counter read port (the one the link top
#: instantiates).
HOST_ARRAY_NAME = ARRAY_MODULE
#: Module names of the Amaranth components the top instantiates.
COUNTER_SELECT_NAME = "counter_select"
TILE_SELECT_NAME = "counter_tile_select"
ALL_IDLE_NAME = "all_idle"

_EXTRA_PORTS = [("output", "idle", 1), ("input", "counter_tile", TILE_BITS),
                ("input", "counter_id", COUNTER_ID_BITS), ("output", "counter_value", COUNTER_BITS)]


def host_array_ports(params):
    """The :data:`HOST_ARRAY_NAME` ports, ``[(direction, name, width)]`` in header order:
    ``clk``, ``rst``, ``idle``, ``counter_tile``, ``counter_id``, ``counter_value``, then
    the edge and configuration ports of
    :func:`~wafer_engine.sw.flows.array_verilog.array_ports`."""
    ports = array_ports(params)
    return ports[:2] + _EXTRA_PORTS + ports[2:]


def host_array_top_verilog(params):
    """The :data:`HOST_ARRAY_NAME` module text of the array ``params`` (needs the ``tile``
    module and the modules of :func:`host_array_components`)."""
    rows, cols = params.rows, params.cols
    ports = host_array_ports(params)
    check_tile_count(rows * cols)
    body = array_body(params)
    body.append("  wire [31:0] " + ", ".join(f"t{r}_{c}_counter" for r in range(rows)
                                             for c in range(cols)) + ";")
    for r in range(rows):
        for c in range(cols):
            stem = f"t{r}_{c}"
            conns = [f".counters__{name}({stem}_{name})" for name in COUNTERS]
            conns += [".counter_id(counter_id)", f".value({stem}_counter)"]
            body.append(f"  {COUNTER_SELECT_NAME} {stem}_counter_select (\n    "
                        + ",\n    ".join(conns) + "\n  );")
    index = [(r * cols + c, f"t{r}_{c}") for r in range(rows) for c in range(cols)]
    conns = [f".values__{k}({stem}_counter)" for k, stem in index]
    conns += [".tile(counter_tile)", ".value(counter_value)"]
    body.append(f"  {TILE_SELECT_NAME} counter_read (\n    " + ",\n    ".join(conns) + "\n  );")
    conns = [f".tile_idle__{k}({stem}_idle)" for k, stem in index] + [".idle(idle)"]
    body.append(f"  {ALL_IDLE_NAME} idle_and (\n    " + ",\n    ".join(conns) + "\n  );")
    return verilog_module(HOST_ARRAY_NAME, ports, body)


def host_array_components(params):
    """``{module name: component}``: the Amaranth modules :data:`HOST_ARRAY_NAME`
    instantiates besides ``tile``, for the array ``params``."""
    return {COUNTER_SELECT_NAME: CounterSelect(),
            TILE_SELECT_NAME: TileCounterSelect(params.tiles),
            ALL_IDLE_NAME: AllIdle(params.tiles)}


def write_host_array_verilog(params, out_dir):
    """Write ``out_dir/wafer_array_idle.v`` for the array ``params`` (an
    :class:`~wafer_engine.rtl.params.ArrayParams`): the ``tile`` module, the counter read and
    idle modules and the :data:`HOST_ARRAY_NAME` top. Returns its path."""
    out_dir = Path(out_dir)
    array, _ = write_array_verilog(params, out_dir)
    # The array file is the tile's Verilog followed by the wafer_array top: keep the former.
    text, top = array.read_text(), array_top_verilog(params)
    if not text.endswith(top):
        raise RuntimeError(f"{array} does not end with the wafer_array top")
    parts = [text[:len(text) - len(top)]]
    parts += [verilog.convert(component, name=name, emit_src=False) + "\n"
              for name, component in host_array_components(params).items()]
    parts.append(host_array_top_verilog(params))
    path = out_dir / f"{HOST_ARRAY_NAME}.v"
    write_if_changed(path, "".join(parts))
    return path
