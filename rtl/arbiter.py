"""Round-robin arbitration: the first request after a pointer, and an arbiter that keeps one."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["CARRY_FROM", "first_after", "one_hot_index", "RoundRobin"]

#: Request count from which :func:`first_after` uses a carry chain instead of plain logic.
CARRY_FROM = 5


def first_after(requests, above):
    """One-hot pick of the first set bit of ``requests`` at or above the first set bit of
    ``above`` (the positions after the pointer), wrapping to the lowest set bit when none is.

    ``above`` is a thermometer mask (bits ``last + 1 ..`` set). Zero when no request is set.
    Up to :data:`CARRY_FROM` requests it is a priority pick in plain logic (a couple of LUT
    levels); for more it is ``x & -x`` over the doubled vector ``{requests, requests & above}``,
    one carry chain instead of a long priority chain.
    """
    count = len(requests)
    if count < CARRY_FROM:
        masked = requests & above
        base = Mux(masked.any(), masked, requests)
        return Cat(base[0], *(base[i] & ~base[:i].any() for i in range(1, count)))
    doubled = Cat(requests & above, requests)
    lowest = doubled & (~doubled + 1)
    return (lowest[:count] | lowest[count:])[:count]


def one_hot_index(one_hot):
    """The index (unsigned, ``ceil(log2(len))`` bits) of the set bit of a one-hot value."""
    count = len(one_hot)
    width = max(1, (count - 1).bit_length())
    bits = []
    for b in range(width):
        ones = [one_hot[i] for i in range(count) if (i >> b) & 1]
        bits.append(Cat(ones).any() if ones else Const(0, 1))
    return Cat(*bits)


class RoundRobin(wiring.Component):
    """Combinational grant with a registered pointer.

    The grant goes to the first set bit of ``requests`` at index ``last + 1``, ``last + 2``, ...
    (wrapping), where ``last`` is the previous grant; ``last`` moves only when ``advance`` is set
    in a cycle with a grant. Every requester that stays asserted is granted within ``count``
    advances.

    Attributes:
        requests: In(count)
        advance: In(1) -- the grant was used this cycle.
        valid: Out(1) -- some request is set.
        grant: Out(range(count)) -- index of the granted request (meaningful when ``valid``).
        one_hot: Out(count) -- the grant as a one-hot mask (zero when not ``valid``).
    """

    def __init__(self, count):
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError(f"Request count must be a positive integer, not {count!r}")
        self._count = count
        super().__init__({
            "requests": In(count),
            "advance": In(1),
            "valid": Out(1),
            "grant": Out(range(count)),
            "one_hot": Out(count),
        })

    @property
    def count(self):
        return self._count

    def elaborate(self, platform):
        m = Module()
        last = Signal(range(self.count), init=self.count - 1)
        # Bit i: request i comes after the last grant. Each bit is a constant comparison of a
        # small register, so it is ready early in the cycle.
        # Bit 0 is never above `last`; written as a constant (not `last < 0`) so the Verilog
        # holds no comparison that is constant by its type (Verilator's UNSIGNED warning).
        above = Cat(Const(0, 1), *(last < i for i in range(1, self.count)))
        m.d.comb += [
            self.valid.eq(self.requests.any()),
            self.one_hot.eq(first_after(self.requests, above)),
            self.grant.eq(one_hot_index(self.one_hot)),
        ]
        with m.If(self.valid & self.advance):
            m.d.sync += last.eq(self.grant)
        return m
