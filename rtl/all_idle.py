"""The array's ``idle``: the AND of every tile's ``idle``."""

from amaranth.hdl import Cat, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from wafer_engine.rtl.counter_read import check_tile_count

__all__ = ["AllIdle", "ref_all_idle"]


def ref_all_idle(tile_idle):
    """Reference of :class:`AllIdle`: 1 if every bit of ``tile_idle`` is 1, else 0."""
    return int(all(tile_idle))


class AllIdle(wiring.Component):
    """``idle`` is high in a cycle where every one of ``tiles`` tiles is idle (combinational).

    Parameters: ``tiles`` (1..4096).

    Attributes:
        tile_idle: In(1).array(tiles) -- each tile's ``idle`` (tile ``row * cols + col``).
        idle: Out(1) -- every tile is idle.
    """

    def __new__(cls, tiles):
        # Checked before the object exists, so a rejected one is not reported as unused.
        check_tile_count(tiles)
        return super().__new__(cls, src_loc_at=1)   # warnings point at the caller

    def __init__(self, tiles):
        self._tiles = tiles
        super().__init__({"tile_idle": In(1).array(tiles), "idle": Out(1)})

    @property
    def tiles(self):
        return self._tiles

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.idle.eq(Cat(*self.tile_idle).all())
        return m
