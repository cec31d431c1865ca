"""Names and numbers of the five router ports."""

import enum

__all__ = ["Port", "PORTS", "parse_port"]


class Port(enum.IntEnum):
    """A router port. ``RAMP`` is the local PE; the others face the mesh neighbours."""
    N = 0
    E = 1
    S = 2
    W = 3
    RAMP = 4

    @property
    def opposite(self):
        """The port on the neighbouring tile that this port's link connects to."""
        if self == Port.RAMP:
            raise ValueError("The RAMP port has no opposite: it faces the local PE")
        return Port((self + 2) % 4)


#: All ports, in bit order of the 5-bit rx/tx masks.
PORTS = tuple(Port)


def parse_port(port):
    """Turn ``"N"``, ``"ramp"``, ``Port.E`` or ``0..4`` into a :class:`Port`.

    Raises ``ValueError`` naming the bad port.
    """
    if isinstance(port, Port):
        return port
    if isinstance(port, str) and port.upper() in Port.__members__:
        return Port[port.upper()]
    if isinstance(port, int) and not isinstance(port, bool) and 0 <= port < len(PORTS):
        return Port(port)
    raise ValueError(f"Port must be one of N, E, S, W, RAMP, not {port!r}")
