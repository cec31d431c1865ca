"""Verilog generation for the engine's components."""

from pathlib import Path

from amaranth.back import verilog

from wafer_engine.rtl.params import ArrayParams
from wafer_engine.rtl.pe import Pe
from wafer_engine.rtl.router import Router
from wafer_engine.rtl.tile import Tile

__all__ = ["TOPS", "write_verilog", "write_if_changed", "router_top", "pe_top", "tile_top"]


def router_top(params=None, routes=None):
    """The router of the array ``params`` (its colors and buffer depth) as a top-level
    component; module name ``router``."""
    params = ArrayParams() if params is None else params
    return Router(colors=params.colors, depth=params.depth, routes=routes), "router"


def pe_top(params=None):
    """The processing element of the array ``params`` as a top-level component; module name
    ``pe``."""
    return Pe((ArrayParams() if params is None else params).pe), "pe"


def tile_top(params=None):
    """One tile (router, PE, configuration node) of the array ``params``; module name
    ``tile``."""
    return Tile(params), "tile"


#: Single components ``wafer verilog --top`` knows, each built from an
#: :class:`~wafer_engine.rtl.params.ArrayParams` (the whole array is ``--top array``, written by
#: :func:`wafer_engine.sw.flows.array_verilog.write_array_verilog`).
TOPS = {
    "router": router_top,
    "pe": pe_top,
    "tile": tile_top,
}


def write_verilog(component, name, out_dir):
    """Write ``component`` as Verilog module ``name`` to ``out_dir/name.v``; returns the path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.v"
    write_if_changed(path, verilog.convert(component, name=name, emit_src=False))
    return path


def write_if_changed(path, text):
    """Write ``text`` to ``path`` atomically, unless it already holds exactly that: an
    unchanged file keeps its timestamp, so Verilator's make does not rebuild the model."""
    path = Path(path)
    if path.exists() and path.read_text() == text:
        return
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
