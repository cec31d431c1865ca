"""Golden model of :class:`wafer_engine.rtl.arbiter.RoundRobin`."""

__all__ = ["RoundRobinModel"]


class RoundRobinModel:
    """Grants the first request after the last grant (wrapping); mirrors the RTL pointer."""

    def __init__(self, count):
        self.count = count
        self.last = count - 1

    def grant(self, requests):
        """Index granted for this cycle's ``requests`` (a sequence of bools), or ``None``."""
        for step in range(1, self.count + 1):
            i = (self.last + step) % self.count
            if requests[i]:
                return i
        return None

    def advance(self, granted):
        self.last = granted
