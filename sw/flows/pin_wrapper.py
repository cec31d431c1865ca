"""A pin-limited wrapper, so a design with hundreds of ports can be placed on a small package.

nextpnr-ice40 has no out-of-context mode: every top-level port becomes a pin, and the array's
edge links have far more bits than an SG48 package has pins. The wrapper ``<name>`` has four
ports (``clk``, ``rst``, ``sin``, ``sout``): every input of the wrapped module except ``clk``
and ``rst`` comes from one shift register fed by ``sin`` (one flip-flop per input bit, no
LUTs), and ``sout`` is a register holding the XOR of every output bit, so no output (and
nothing behind it) can be optimised away. Its own cost: one flip-flop per input bit, the XOR
tree (about ``outputs / 3`` LUT4s) and its output register.
"""

import re

__all__ = ["module_ports", "pin_wrapper_verilog"]

_DECL = re.compile(r"^\s*(input|output)\s+(?:\[(\d+):(\d+)\]\s+)?(\w+)\s*;", re.M)


def module_ports(text, module):
    """``[(direction, name, width)]`` of ``module`` in Verilog ``text``, from its
    non-ANSI port declarations (``input [7:0] x;``), in declaration order."""
    start = re.search(rf"^module\s+{re.escape(module)}\s*\(", text, re.M)
    if start is None:
        raise ValueError(f"Module {module!r} not found in the Verilog text")
    end = text.index("endmodule", start.end())
    return [(d, name, int(hi) - int(lo) + 1 if hi else 1)
            for d, hi, lo, name in _DECL.findall(text[start.end():end])]


def pin_wrapper_verilog(ports, inner, name="wafer_pins"):
    """Verilog of the wrapper module ``name`` around module ``inner`` with ``ports`` (as
    :func:`module_ports` returns them); ``clk`` and ``rst`` pass straight through."""
    ins = [(n, w) for d, n, w in ports if d == "input" and n not in ("clk", "rst")]
    outs = [(n, w) for d, n, w in ports if d == "output"]
    in_bits = max(sum(w for _, w in ins), 1)
    out_bits = sum(w for _, w in outs)
    lines = [f"module {name}(input clk, input rst, input sin, output reg sout);",
             f"  reg [{in_bits - 1}:0] shift;",
             f"  wire [{max(out_bits, 1) - 1}:0] outs;",
             "  always @(posedge clk) shift <= {shift, sin};" if in_bits > 1 else
             "  always @(posedge clk) shift <= sin;",
             "  always @(posedge clk) sout <= ^outs;"]
    conns, low = [".clk(clk)", ".rst(rst)"], 0
    for n, w in ins:
        conns.append(f".{n}(shift[{low + w - 1}:{low}])")
        low += w
    low = 0
    for n, w in outs:
        conns.append(f".{n}(outs[{low + w - 1}:{low}])")
        low += w
    if not outs:
        lines.append("  assign outs = 1'b0;")
    lines.append(f"  {inner} inner (\n    " + ",\n    ".join(conns) + "\n  );")
    lines.append("endmodule")
    return "\n".join(lines) + "\n"
