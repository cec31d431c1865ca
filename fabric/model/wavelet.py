"""Wavelets as Python values, packed and unpacked through the RTL's own layout."""

from typing import NamedTuple

from wafer_engine.rtl import wavelet as layout

__all__ = ["Wavelet"]


class Wavelet(NamedTuple):
    """One wavelet: ``color`` 0..23, 32-bit ``payload``, ``control`` flag (0 or 1)."""
    color: int
    payload: int
    control: int = 0

    @classmethod
    def half(cls, color, value, index, control=0):
        """A wavelet carrying a 16-bit ``value`` (low half) and 16-bit ``index`` (high half)."""
        return cls(color, (index & 0xFFFF) << 16 | (value & 0xFFFF), control)

    @property
    def value(self):
        return self.payload & 0xFFFF

    @property
    def index(self):
        return self.payload >> 16

    def to_bits(self):
        """The 38-bit integer the RTL carries on a link."""
        return layout.Wavelet.const({"payload": {"data": self.payload}, "color": self.color,
                                     "control": self.control}).as_bits()

    @classmethod
    def from_bits(cls, bits):
        view = layout.Wavelet.from_bits(bits)
        return cls(int(view.color), int(view.payload.data), int(view.control))
