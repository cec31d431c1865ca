"""Verilog generation for the engine's components."""

from pathlib import Path

from amaranth.back import verilog

from wafer_engine.rtl.pe import Pe
from wafer_engine.rtl.router import Router

__all__ = ["TOPS", "write_verilog", "write_if_changed", "router_top", "pe_top"]


def router_top(colors=4, depth=2, routes=None):
    """The router as a top-level component; module name ``router``."""
    return Router(colors=colors, depth=depth, routes=routes), "router"


def pe_top(colors=4, depth=4, mem_words=4096, **pe_params):
    """The processing element as a top-level component; module name ``pe``. ``depth`` sets
    both its input and output FIFO depths."""
    return Pe(colors=colors, in_depth=depth, out_depth=depth, mem_words=mem_words,
              **pe_params), "pe"


#: Components ``wafer verilog --top`` knows, with the keyword arguments each takes.
TOPS = {
    "router": router_top,
    "pe": pe_top,
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
