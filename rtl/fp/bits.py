"""Bit-level building blocks shared by the floating-point units."""

from amaranth.hdl import Const, Mux

__all__ = ["leading_zeros"]


def leading_zeros(value):
    """Number of zero bits above the highest set bit of ``value`` (``len(value)`` if zero).

    A combinational priority chain: each set bit overrides the count of every lower bit, so
    the highest set bit decides. Result shape: ``range(len(value) + 1)``.
    """
    width = len(value)
    count = Const(width, range(width + 1))
    for i in range(width):
        count = Mux(value[i], width - 1 - i, count)
    return count
