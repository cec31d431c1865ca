"""Round-robin arbiter: grants one of N requests, starting after the last grant."""

from amaranth.hdl import Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["RoundRobin"]


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
    """

    def __init__(self, count):
        if not isinstance(count, int) or count < 1:
            raise ValueError(f"Request count must be a positive integer, not {count!r}")
        self._count = count
        super().__init__({
            "requests": In(count),
            "advance": In(1),
            "valid": Out(1),
            "grant": Out(range(count)),
        })

    @property
    def count(self):
        return self._count

    def elaborate(self, platform):
        from amaranth.hdl import Module
        m = Module()
        last = Signal(range(self.count), init=self.count - 1)
        m.d.comb += self.valid.eq(self.requests.any())
        # Later assignments win: scan all requests, then only those after `last`, both from the
        # top down, so the final grant is the lowest index after `last`, else the lowest overall.
        for i in reversed(range(self.count)):
            with m.If(self.requests[i]):
                m.d.comb += self.grant.eq(i)
        for i in reversed(range(1, self.count)):
            with m.If(self.requests[i] & (last < i)):
                m.d.comb += self.grant.eq(i)
        with m.If(self.valid & self.advance):
            m.d.sync += last.eq(self.grant)
        return m
