"""Reading one PE counter out of an array: a selector beside each tile, then one over the tiles.

The read is split in two levels so that only 32 wires per tile run toward the reader: one
flat selector over every counter bit of every tile made a routing hot spot on the FPGA.
Both levels are combinational: the value follows ``counter_id`` and ``tile`` in the same
cycle. The pure-Python references are :func:`ref_counter_select` and
:func:`ref_tile_counter_select`.
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from wafer_engine.rtl.checks import check_int
from wafer_engine.rtl.host_link import COUNTER_ID_BITS, MAX_TILES, TILE_BITS
from wafer_engine.rtl.pe import COUNTERS, CountersSignature

__all__ = ["CounterSelect", "TileCounterSelect", "ref_counter_select",
           "ref_tile_counter_select", "check_tile_count", "COUNTER_BITS"]

#: Width of a counter (bits).
COUNTER_BITS = 32


def check_tile_count(tiles):
    """Validate a tile count (1..:data:`~wafer_engine.rtl.host_link.MAX_TILES`, what the
    ``tile`` select can address); returns it."""
    return check_int(tiles, 1, MAX_TILES, "Tile count")


def ref_counter_select(counters, counter_id):
    """Reference of :class:`CounterSelect`: ``counters`` maps each name of
    :data:`~wafer_engine.rtl.pe.COUNTERS` to its value; the value of counter number
    ``counter_id`` (0 past the last counter)."""
    return counters[COUNTERS[counter_id]] if counter_id < len(COUNTERS) else 0


def ref_tile_counter_select(values, tile):
    """Reference of :class:`TileCounterSelect`: ``values[tile]``, or 0 for a tile past the
    last one."""
    return values[tile] if tile < len(values) else 0


class CounterSelect(wiring.Component):
    """One tile's counter read: the counter ``counter_id`` names (combinational).

    Attributes:
        counters: In(CountersSignature()) -- the tile's counters (its ``counters`` port).
        counter_id: In(3) -- a counter's index in :data:`~wafer_engine.rtl.pe.COUNTERS`.
        value: Out(32) -- that counter's value; 0 for an index past the last counter.
    """

    counters: In(CountersSignature())
    counter_id: In(COUNTER_ID_BITS)
    value: Out(COUNTER_BITS)

    def elaborate(self, platform):
        m = Module()
        with m.Switch(self.counter_id):
            for k, name in enumerate(COUNTERS):
                with m.Case(k):
                    m.d.comb += self.value.eq(getattr(self.counters, name))
        return m


class TileCounterSelect(wiring.Component):
    """The array's counter read: the value of tile ``tile`` (``row * cols + col``) among
    ``tiles`` per-tile reads (combinational).

    Parameters: ``tiles`` (1..4096).

    Attributes:
        values: In(32).array(tiles) -- each tile's :class:`CounterSelect` value.
        tile: In(12) -- the tile to read.
        value: Out(32) -- ``values[tile]``; 0 for a tile past the last one.
    """

    def __new__(cls, tiles):
        # Checked before the object exists, so a rejected one is not reported as unused.
        check_tile_count(tiles)
        return super().__new__(cls, src_loc_at=1)   # warnings point at the caller

    def __init__(self, tiles):
        self._tiles = tiles
        super().__init__({"values": In(COUNTER_BITS).array(tiles), "tile": In(TILE_BITS),
                          "value": Out(COUNTER_BITS)})

    @property
    def tiles(self):
        return self._tiles

    def elaborate(self, platform):
        m = Module()
        with m.Switch(self.tile):
            for k in range(self._tiles):
                with m.Case(k):
                    m.d.comb += self.value.eq(self.values[k])
        return m
