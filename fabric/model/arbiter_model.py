"""Golden model of :mod:`wafer_engine.rtl.arbiter`: round-robin picks and the arbiter."""

__all__ = ["first_after", "RoundRobinModel"]


def first_after(requests, last):
    """Index of the first true entry of ``requests`` after ``last`` (wrapping, ``last``
    itself checked last), or ``None``; mirrors :func:`wafer_engine.rtl.arbiter.first_after`."""
    count = len(requests)
    for step in range(1, count + 1):
        i = (last + step) % count
        if requests[i]:
            return i
    return None


class RoundRobinModel:
    """Grants the first request after the last grant (wrapping); mirrors the RTL pointer."""

    def __init__(self, count):
        self.count = count
        self.last = count - 1

    def grant(self, requests):
        """Index granted for this cycle's ``requests`` (a sequence of bools), or ``None``."""
        return first_after(requests, self.last)

    def advance(self, granted):
        self.last = granted
