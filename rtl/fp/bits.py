"""Bit-level building blocks shared by the floating-point units."""

from amaranth.hdl import Cat, Const, Mux

__all__ = ["leading_zeros", "trailing_zeros"]


def _count_leading(value):
    """Leading zeros of ``value`` (a power-of-two width): a tree of halves, so the depth grows
    with the logarithm of the width (a chain over the bits would grow with the width)."""
    width = len(value)
    if width == 1:
        return ~value[0]
    half = width // 2
    high, low = value[half:], value[:half]
    return Mux(high.any(), _count_leading(high), half + _count_leading(low))


def leading_zeros(value):
    """Number of zero bits above the highest set bit of ``value`` (``len(value)`` if zero).

    Result shape: ``range(len(value) + 1)``.
    """
    width = len(value)
    size = 1
    while size < width + 1:
        size *= 2
    # Below the value, a one and then zeros up to a power of two: a zero value counts `width`.
    padded = Cat(Const(0, size - width - 1), Const(1, 1), value)
    return _count_leading(padded)[:width.bit_length()]


def trailing_zeros(value):
    """Number of zero bits below the lowest set bit of ``value`` (``len(value)`` if zero).

    Result shape: ``range(len(value) + 1)``.
    """
    return leading_zeros(Cat(*reversed(list(value))))
