"""The array's counter read (per-tile and array-level selectors) and its idle AND, in
amaranth.sim against their Python references: directed corners and random inputs, read in the
same cycle they are presented (both are combinational)."""

import random
import re

import pytest
from amaranth.back import verilog
from amaranth.sim import Simulator

from wafer_engine.rtl.all_idle import AllIdle, ref_all_idle
from wafer_engine.rtl.counter_read import (CounterSelect, TileCounterSelect, ref_counter_select,
                                           ref_tile_counter_select)
from wafer_engine.rtl.host_link import COUNTER_ID_BITS, TILE_BITS
from wafer_engine.rtl.pe import COUNTERS

_TOP = (1 << 32) - 1


def _run(dut, bench):
    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()


def test_counter_select_matches_reference():
    rng = random.Random(1)
    cases = [({name: k + 1 for k, name in enumerate(COUNTERS)}, k)
             for k in range(1 << COUNTER_ID_BITS)]
    cases += [({name: _TOP for name in COUNTERS}, k) for k in (0, len(COUNTERS) - 1)]
    cases += [({name: rng.getrandbits(32) for name in COUNTERS},
               rng.randrange(1 << COUNTER_ID_BITS)) for _ in range(200)]
    dut = CounterSelect()
    seen = []

    async def bench(ctx):
        for counters, counter_id in cases:
            for name, value in counters.items():
                ctx.set(getattr(dut.counters, name), value)
            ctx.set(dut.counter_id, counter_id)
            got = ctx.get(dut.value)
            assert got == ref_counter_select(counters, counter_id), (counters, counter_id)
            seen.append(got)

    _run(dut, bench)
    assert len(seen) == len(cases) and set(seen[:len(COUNTERS)]) == set(range(1, 9))


def test_counter_select_reference_is_zero_past_the_last_counter():
    counters = {name: 7 for name in COUNTERS}
    assert ref_counter_select(counters, len(COUNTERS) - 1) == 7
    assert ref_counter_select(counters, len(COUNTERS)) == 0


@pytest.mark.parametrize("tiles", [1, 3, 16])
def test_tile_counter_select_matches_reference(tiles):
    rng = random.Random(tiles)
    corners = [([k + 100 for k in range(tiles)], t)
               for t in (*range(tiles), tiles, tiles + 1, (1 << TILE_BITS) - 1)]
    corners.append(([_TOP] * tiles, tiles - 1))
    randoms = [([rng.getrandbits(32) for _ in range(tiles)],
                rng.choice([rng.randrange(tiles + 2), rng.randrange(1 << TILE_BITS)]))
               for _ in range(200)]
    dut = TileCounterSelect(tiles)
    checked = []

    async def bench(ctx):
        for values, tile in corners + randoms:
            for k, value in enumerate(values):
                ctx.set(dut.values[k], value)
            ctx.set(dut.tile, tile)
            assert ctx.get(dut.value) == ref_tile_counter_select(values, tile), (values, tile)
            checked.append(tile)

    _run(dut, bench)
    assert len(checked) == len(corners) + len(randoms)
    assert ref_tile_counter_select([5, 6], 1) == 6 and ref_tile_counter_select([5, 6], 2) == 0


@pytest.mark.parametrize("tiles", [1, 2, 9])
def test_all_idle_matches_reference(tiles):
    rng = random.Random(tiles)
    patterns = [[1] * tiles, [0] * tiles] + [[int(k != j) for k in range(tiles)]
                                             for j in range(tiles)]
    patterns += [[rng.getrandbits(1) | rng.getrandbits(1) for _ in range(tiles)]
                 for _ in range(100)]
    dut = AllIdle(tiles)
    results = []

    async def bench(ctx):
        for bits in patterns:
            for k, bit in enumerate(bits):
                ctx.set(dut.tile_idle[k], bit)
            results.append(ctx.get(dut.idle))
            assert results[-1] == ref_all_idle(bits), bits

    _run(dut, bench)
    assert results[0] == 1 and results[1] == 0 and 1 not in results[2:2 + tiles]


def test_verilog_ports_are_the_signature_names():
    text = verilog.convert(CounterSelect(), name="counter_select", emit_src=False)
    assert all(f"input [31:0] counters__{name};" in text for name in COUNTERS)
    assert "input [2:0] counter_id;" in text and "output [31:0] value;" in text
    text = verilog.convert(TileCounterSelect(3), name="counter_tile_select", emit_src=False)
    assert "input [31:0] values__2;" in text and "input [11:0] tile;" in text
    text = verilog.convert(AllIdle(2), name="all_idle", emit_src=False)
    assert "input tile_idle__1;" in text and "output idle;" in text


@pytest.mark.parametrize("cls", [TileCounterSelect, AllIdle])
@pytest.mark.parametrize("tiles", [0, 4097, 2.0, True])
def test_bad_tile_count(cls, tiles):
    with pytest.raises(ValueError, match=rf"^Tile count must be an integer between 1 and "
                                         rf"4096, not {re.escape(repr(tiles))}$"):
        cls(tiles)
