"""Pieces every formal harness here uses: reaching a design's internal signals by name, and
the modular event counters the properties compare."""

from amaranth.hdl import Signal

__all__ = ["assigned_signals", "event_counter"]


def assigned_signals(fragment):
    """Every signal assigned in ``fragment`` itself (not its subfragments), by name."""
    found = {}
    for statements in fragment.statements.values():
        for signal in statements._lhs_signals():
            found.setdefault(signal.name, signal)
    return found


def event_counter(m, name, inc, width):
    """A ``width``-bit counter (wraps around) in ``m`` that adds ``inc`` every cycle."""
    count = Signal(width, name=name)
    m.d.sync += count.eq(count + inc)
    return count
