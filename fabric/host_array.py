"""The array Verilog for the host link: ``wafer_array`` plus an ``idle`` output.

The host link needs to know when the array has gone quiet, and ``wafer_array`` keeps each PE's
``idle`` on an internal wire (``t<r>_<c>_idle``). This writes the same file as
:func:`fabric.array.write_array_verilog` with the top renamed to :data:`HOST_ARRAY_NAME` and one
more port, ``idle``, the AND of every tile's. Nothing else changes: the tile module and the
wiring are the array's own.
"""

from pathlib import Path

from .array import TOP_NAME, write_array_verilog
from .program import chain_order
from .verilog import write_if_changed

__all__ = ["HOST_ARRAY_NAME", "host_array_text", "write_host_array_verilog"]

#: Module name of the array with ``idle``.
HOST_ARRAY_NAME = "wafer_array_idle"


def host_array_text(array_text, rows, cols):
    """``array_text`` (the whole :func:`~fabric.array.write_array_verilog` file) with its top
    turned into :data:`HOST_ARRAY_NAME` with an ``idle`` output."""
    head = f"module {TOP_NAME}(clk, rst, "
    start = array_text.index(head)
    tail = array_text.rindex("endmodule")
    idles = " & ".join(f"t{r}_{c}_idle" for r, c in chain_order(rows, cols))
    top = array_text[start:tail]
    top = top.replace(head, f"module {HOST_ARRAY_NAME}(clk, rst, idle, ", 1)
    top = top.replace("  input rst;\n", "  input rst;\n  output idle;\n", 1)
    return (array_text[:start] + top + f"  assign idle = {idles};\n"
            + array_text[tail:])


def write_host_array_verilog(rows, cols, out_dir, **params):
    """Write ``out_dir/wafer_array_idle.v`` (see :func:`host_array_text`) for an R x C array
    with ``params`` (``colors``, ``depth`` and the PE's); returns its path."""
    out_dir = Path(out_dir)
    array, _ = write_array_verilog(rows, cols, out_dir, **params)
    path = out_dir / f"{HOST_ARRAY_NAME}.v"
    write_if_changed(path, host_array_text(array.read_text(), rows, cols))
    return path
