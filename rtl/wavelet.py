"""The wavelet: the 38-bit message every link carries, and the link signature."""

from amaranth.hdl import unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

__all__ = [
    "MAX_COLORS", "COLOR_BITS", "Half", "Payload", "PAYLOAD_BYTES", "Wavelet", "LinkSignature",
    "check_colors",
]

#: Routable colors on WSE-2 (0..23); the color field is sized for them.
MAX_COLORS = 24
#: Width of the color field: 5 bits hold 0..23, so payload 32 + color 5 + control 1 = 38 bits.
COLOR_BITS = 5


class Half(data.Struct):
    """A payload split into a 16-bit value (low half) and a 16-bit index (high half)."""
    value: 16
    index: 16


class Payload(data.Union):
    """A 32-bit payload, read either as ``data`` (32 bits) or as ``half`` (value16 + index16)."""
    data: 32
    half: Half


#: Bytes of a wavelet's payload: what one wavelet carries between host and fabric (4).
PAYLOAD_BYTES = Payload.as_shape().size // 8


class Wavelet(data.Struct):
    """One message on a link: 32-bit payload, color 0..23, and a control flag.

    A control wavelet (``control == 1``) carries a command for the PE instead of data.
    Bit layout (LSB first): payload[0:32] (value = [0:16], index = [16:32]), color[32:37],
    control[37].
    """
    payload: Payload
    color: unsigned(COLOR_BITS)
    control: 1


def check_colors(colors):
    """Validate a color count; returns it. Raises ``ValueError`` naming the bad value."""
    if not isinstance(colors, int) or isinstance(colors, bool) or not 1 <= colors <= MAX_COLORS:
        raise ValueError(f"Color count must be an integer between 1 and {MAX_COLORS}, "
                         f"not {colors!r}")
    return colors


class LinkSignature(wiring.Signature):
    """One direction of a mesh link, seen from the sender.

    Members:
        valid: Out(1) -- ``wavelet`` holds a wavelet offered this cycle.
        wavelet: Out(Wavelet) -- the offered wavelet.
        ready: In(colors) -- bit ``c`` set: the receiver accepts a wavelet of color ``c`` this cycle.

    A transfer happens in a cycle where ``valid & ready[wavelet.color]``. Colors are virtual
    channels: each has its own ready bit, so a stalled color never blocks another. The receiver
    derives ``ready`` from its own state only (never from this link's ``valid``), so the sender may
    look at ``ready`` to choose which color to offer without forming a combinational loop.
    Colors ``>= colors`` are never ready.
    """

    def __init__(self, colors):
        self._colors = check_colors(colors)
        super().__init__({
            "valid":   Out(1),
            "wavelet": Out(Wavelet),
            "ready":   In(colors),
        })

    @property
    def colors(self):
        return self._colors

    def __eq__(self, other):
        return isinstance(other, LinkSignature) and self.colors == other.colors

    def __repr__(self):
        return f"LinkSignature({self.colors})"
