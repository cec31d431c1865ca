"""The array Verilog for the host link: ``wafer_array`` plus an ``idle`` output.

The host link needs to know when the array has gone quiet and to read the PE counters, and
``wafer_array`` keeps each PE's ``idle`` and counters on internal wires (``t<r>_<c>_idle``,
``t<r>_<c>_<counter>``). This writes the same file as :func:`wafer_engine.sw.flows.array_verilog.write_array_verilog`
with the top renamed to :data:`HOST_ARRAY_NAME` and more ports: ``idle``, the AND of every
tile's, and a counter read port: ``counter_value`` (32 bits, combinational) is the counter
``counter_id`` (:data:`wafer_engine.rtl.pe.COUNTERS` order) of tile ``counter_tile`` (``row * cols +
col``), 0 for a tile outside the array. Nothing else changes: the tile module and the
wiring are the array's own.
"""

from pathlib import Path

from wafer_engine.rtl.host_link import COUNTER_ID_BITS, TILE_BITS
from wafer_engine.rtl.pe import COUNTERS

from wafer_engine.sw.flows.array_verilog import TOP_NAME, write_array_verilog
from wafer_engine.fabric.program.program import chain_order
from wafer_engine.sw.flows.verilog import write_if_changed

__all__ = ["HOST_ARRAY_NAME", "host_array_text", "write_host_array_verilog"]

#: Module name of the array with ``idle``.
HOST_ARRAY_NAME = "wafer_array_idle"


def host_array_text(array_text, rows, cols):
    """``array_text`` (the whole :func:`~wafer_engine.sw.flows.array_verilog.write_array_verilog` file) with its top
    turned into :data:`HOST_ARRAY_NAME` with an ``idle`` output and the counter read port."""
    head = f"module {TOP_NAME}(clk, rst, "
    start = array_text.index(head)
    tail = array_text.rindex("endmodule")
    idles = " & ".join(f"t{r}_{c}_idle" for r, c in chain_order(rows, cols))
    top = array_text[start:tail]
    top = top.replace(head, f"module {HOST_ARRAY_NAME}(clk, rst, idle, counter_tile, "
                            f"counter_id, counter_value, ", 1)
    top = top.replace("  input rst;\n", f"  input rst;\n  output idle;\n"
                      f"  input [{TILE_BITS - 1}:0] counter_tile;\n"
                      f"  input [{COUNTER_ID_BITS - 1}:0] counter_id;\n"
                      f"  output reg [31:0] counter_value;\n", 1)
    # Two levels: each tile's counters are selected next to the tile, so only 32 wires per
    # tile run to the link (one flat case over every counter bit made a routing hot spot).
    mux = []
    for r in range(rows):
        for c in range(cols):
            stem = f"t{r}_{c}"
            mux += [f"  reg [31:0] {stem}_counter;", "  always @* begin",
                    "    case (counter_id)",
                    *(f"      {COUNTER_ID_BITS}'d{k}: {stem}_counter = {stem}_{name};"
                      for k, name in enumerate(COUNTERS)),
                    f"      default: {stem}_counter = 32'd0;", "    endcase", "  end"]
    mux += ["  always @* begin", "    case (counter_tile)",
            *(f"      {TILE_BITS}'d{r * cols + c}: counter_value = t{r}_{c}_counter;"
              for r in range(rows) for c in range(cols)),
            "      default: counter_value = 32'd0;", "    endcase", "  end"]
    return (array_text[:start] + top + f"  assign idle = {idles};\n" + "\n".join(mux) + "\n"
            + array_text[tail:])


def write_host_array_verilog(params, out_dir):
    """Write ``out_dir/wafer_array_idle.v`` (see :func:`host_array_text`) for the array
    ``params`` (an :class:`~wafer_engine.rtl.params.ArrayParams`); returns its path."""
    out_dir = Path(out_dir)
    array, _ = write_array_verilog(params, out_dir)
    path = out_dir / f"{HOST_ARRAY_NAME}.v"
    write_if_changed(path, host_array_text(array.read_text(), params.rows, params.cols))
    return path
