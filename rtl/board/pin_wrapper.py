"""A pin-limited wrapper, so a design with hundreds of ports can be placed on a small package.

nextpnr-ice40 has no out-of-context mode: every top-level port becomes a pin, and the array's
edge links have far more bits than an SG48 package has pins. :class:`PinWrapper` has four
ports (``clk``, ``rst``, ``sin``, ``sout``) around the wrapped module. Its cost: one flip-flop
per input bit (no LUTs), the XOR tree (about ``outputs / 3`` LUT4s) and one output flip-flop.
"""

from amaranth.hdl import Cat, ClockSignal, Const, Instance, Module, ResetSignal, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["PinWrapper", "component_ports", "check_ports", "ref_shift", "ref_fold",
           "CLOCK_PORTS"]

#: Ports of the wrapped module that pass straight through (the wrapper's own clock and reset).
CLOCK_PORTS = ("clk", "rst")


def component_ports(component):
    """``[(direction, name, width)]`` of an Amaranth component's Verilog ports, from its
    signature (``"input"`` for an ``In`` member; names joined with ``__`` as Amaranth's
    Verilog backend writes them). The ``clk`` and ``rst`` of its clock domain are not
    members: add ``("input", "clk", 1), ("input", "rst", 1)`` when the module has them."""
    return [("input" if member.flow == In else "output", "__".join(map(str, path)),
             Value.cast(value).shape().width)
            for path, member, value in component.signature.flatten(component)]


def check_ports(ports):
    """Validate a port list ``[(direction, name, width)]``; returns it as a list. Raises
    ``ValueError`` naming the bad entry."""
    ports, names = list(ports), set()
    for port in ports:
        if not (isinstance(port, tuple) and len(port) == 3):
            raise ValueError(f"Port must be a (direction, name, width) tuple, not {port!r}")
        direction, name, width = port
        if direction not in ("input", "output"):
            raise ValueError(f"Port direction must be 'input' or 'output', not {direction!r}")
        if not (isinstance(name, str) and name.isidentifier()):
            raise ValueError(f"Port name must be an identifier, not {name!r}")
        if not isinstance(width, int) or isinstance(width, bool) or width < 1:
            raise ValueError(f"Width of port {name!r} must be a positive integer, "
                             f"not {width!r}")
        if name in names:
            raise ValueError(f"Port {name!r} is listed twice")
        names.add(name)
    return ports


def _members(component):
    return {"__".join(map(str, path)): Value.cast(value)
            for path, _, value in component.signature.flatten(component)}


def _check_inner(inner, ports):
    if isinstance(inner, str):
        if not inner.isidentifier():
            raise ValueError(f"Module name must be an identifier, not {inner!r}")
    elif isinstance(inner, wiring.Component):
        members = _members(inner)
        for _, name, _ in ports:
            if name not in members and name not in CLOCK_PORTS:
                raise ValueError(f"Port {name!r} is not a member of {inner!r}")
    else:
        raise ValueError(f"Wrapped design must be a module name or a Component, not {inner!r}")


def ref_shift(state, sin, in_bits):
    """Reference of the input shift register: its ``in_bits``-bit value after one clock edge
    with ``sin`` (``sin`` enters at bit 0, every bit moves up by one)."""
    return ((state << 1) | sin) & ((1 << max(in_bits, 1)) - 1)


def ref_fold(outputs):
    """Reference of ``sout`` one clock edge after the wrapped module's outputs were
    ``outputs`` (``[(value, width)]`` in port order): the XOR of all their bits."""
    return sum(bin(value & ((1 << width) - 1)).count("1") for value, width in outputs) & 1


class PinWrapper(wiring.Component):
    """``inner`` behind a serial pin interface.

    Every input of ``inner`` except ``clk`` and ``rst`` is a slice of one shift register fed
    by ``sin`` (a register per bit, shifted each cycle from bit 0 up; the first input in
    ``ports`` order takes the lowest bits), and ``sout`` is a register holding the XOR of
    every output bit of the cycle before, so no output, and nothing behind it, can be
    optimised away. ``clk`` and ``rst`` of ``inner``, if listed, are the wrapper's clock and
    reset. The shift register and ``sout`` have no reset.

    ``inner`` is a module name, instantiated by name (its Verilog is added to the build), or
    an Amaranth component, added as a submodule and connected through its signature (for
    simulation). ``ports`` is its port list ``[(direction, name, width)]``, e.g.
    :func:`component_ports`, or for the text-generated array
    :func:`wafer_engine.sw.flows.array_verilog.array_ports`.

    Attributes:
        sin: In(1) -- serial input bits.
        sout: Out(1) -- the XOR of the outputs, one cycle late.
    """

    sin: In(1)
    sout: Out(1)

    def __new__(cls, inner, ports):
        # Checked before the object exists, so a rejected one is not reported as unused.
        _check_inner(inner, check_ports(ports))
        return super().__new__(cls, src_loc_at=1)   # warnings point at the caller

    def __init__(self, inner, ports):
        self._inner, self._ports = inner, check_ports(ports)
        super().__init__()

    @property
    def ports(self):
        """The wrapped module's ports, ``[(direction, name, width)]``."""
        return list(self._ports)

    @property
    def in_bits(self):
        """Length of the input shift register (bits): the inputs' total width, at least 1."""
        return max(sum(w for d, n, w in self._ports
                       if d == "input" and n not in CLOCK_PORTS), 1)

    def elaborate(self, platform):
        m = Module()
        ins = [(n, w) for d, n, w in self._ports if d == "input" and n not in CLOCK_PORTS]
        outs = [(n, w) for d, n, w in self._ports if d == "output"]
        shift = Signal(self.in_bits, reset_less=True)
        fold = Signal(reset_less=True)
        m.d.sync += shift.eq(Cat(self.sin, shift[:-1]))
        m.d.comb += self.sout.eq(fold)

        conns, low = {}, 0
        for name, width in ins:
            conns[name] = ("i", shift[low:low + width])
            low += width
        out_bits = []
        for name, width in outs:
            out_bits.append(Signal(width, name=f"out_{name}"))
            conns[name] = ("o", out_bits[-1])
        m.d.sync += fold.eq(Cat(*out_bits).xor() if out_bits else Const(0, 1))
        clocks = {"clk": ClockSignal(), "rst": ResetSignal()}
        for name in CLOCK_PORTS:
            if any(d == "input" and n == name for d, n, w in self._ports):
                conns[name] = ("i", clocks[name])

        if isinstance(self._inner, str):
            m.submodules.inner = Instance(self._inner, **{
                f"{kind}_{name}": value for name, (kind, value) in conns.items()})
        else:
            m.submodules.inner = self._inner
            members = _members(self._inner)
            for name, (kind, value) in conns.items():
                if name in CLOCK_PORTS:
                    continue            # the component runs in the wrapper's own domain
                m.d.comb += (members[name].eq(value) if kind == "i"
                             else value.eq(members[name]))
        return m
