"""The array program compiler rejects bad programs before any hardware runs."""

import pytest

from wafer_engine.fabric.model.config_model import run_chain
from wafer_engine.fabric.program.pe_task import Task
from wafer_engine.fabric.program.program import ArrayProgram, TileProgram, chain_order
from wafer_engine.fabric.model.wavelet import Wavelet
from wafer_engine.rtl.config_chain import ConfigDest
from wafer_engine.rtl.route import Route
from wafer_engine.rtl.params import ArrayParams


def column_program(rows=2, **extra):
    """Color 0 enters column 0 from the north and is multicast down it into every PE."""
    tiles = {(r, 0): TileProgram(routes={0: Route(rx={"N"}, tx={"S", "RAMP"})},
                                 tasks={0: Task("AXPY", len=4, rows=2)}) for r in range(rows)}
    return ArrayProgram(ArrayParams.build(rows=rows, cols=1, **extra), tiles=tiles,
                        inputs={("N", 0): [Wavelet.half(0, 0x3C00, 1)]})


def test_a_valid_program_compiles_to_chain_records():
    program = column_program()
    records = program.config_records()
    assert {r.hops for r in records} == {0, 1}
    cycles, writes = run_chain(2, program.config_words())
    for node in range(2):
        routes = [w for w in writes[node] if w[0] == ConfigDest.ROUTE]
        assert routes[0] == (ConfigDest.ROUTE, 0, Route(frozenset({0}), frozenset({2, 4}))
                             .validated(0).as_entry().as_bits())
    assert cycles <= len(program.config_words()) + 2 + 1


def test_chain_order_is_a_snake_of_neighbours():
    order = chain_order(3, 4)
    assert order[:5] == [(0, 0), (0, 1), (0, 2), (0, 3), (1, 3)]
    assert all(abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1 for a, b in zip(order, order[1:]))
    assert sorted(order) == [(r, c) for r in range(3) for c in range(4)]


@pytest.mark.parametrize("rows", [0, -1, 1.5])
def test_array_size(rows):
    with pytest.raises(ValueError, match=rf"^Row count must be an integer between 1 and 1024, "
                                         rf"not {rows!r}$"):
        ArrayProgram(ArrayParams.build(rows=rows, cols=2))


def test_color_out_of_range():
    with pytest.raises(ValueError, match=r"^Tile \(0, 0\): Route color must be an integer "
                                         r"between 0 and 3, not 4$"):
        ArrayProgram(ArrayParams.build(rows=1, cols=1),
                     tiles={(0, 0): TileProgram(routes={4: Route(rx={"N"}, tx={"S"})})})


def test_tile_outside_array():
    with pytest.raises(ValueError, match=r"^Tile must be a \(row, col\) inside the 2x2 array, "
                                         r"not \(2, 0\)$"):
        ArrayProgram(ArrayParams.build(rows=2, cols=2), tiles={(2, 0): TileProgram()})


def test_rx_without_upstream_tx():
    tiles = {(0, 0): TileProgram(routes={1: Route(rx={"W"}, tx={"E"})}),
             (0, 1): TileProgram(routes={1: Route(rx={"W"}, tx={"E"})})}
    with pytest.raises(ValueError, match=r"^Tile \(0, 0\) color 1 receives from the west edge, "
                                         r"which has no input stream$"):
        ArrayProgram(ArrayParams.build(rows=1, cols=2), tiles=tiles)
    tiles[(0, 0)] = TileProgram(routes={1: Route(rx={"N"}, tx={"S"})})
    with pytest.raises(ValueError, match=r"^Tile \(0, 0\) color 1 sends south, but tile "
                                         r"\(1, 0\) does not receive color 1 from north$"):
        ArrayProgram(ArrayParams.build(rows=2, cols=2), tiles=tiles, inputs={("N", 0): []})
    with pytest.raises(ValueError, match=r"^Tile \(0, 1\) color 1 receives from west, but tile "
                                         r"\(0, 0\) does not send color 1 east$"):
        ArrayProgram(ArrayParams.build(rows=1, cols=2), tiles=tiles, inputs={("N", 0): []})


def test_ramp_without_task():
    tiles = {(0, 0): TileProgram(routes={0: Route(rx={"N"}, tx={"RAMP"})})}
    with pytest.raises(ValueError, match=r"^Tile \(0, 0\) color 0 is delivered to RAMP but its "
                                         r"PE has no task for color 0$"):
        ArrayProgram(ArrayParams.build(rows=1, cols=1), tiles=tiles, inputs={("N", 0): []})
    tiles = {(0, 0): TileProgram(routes={0: Route(rx={"RAMP"}, tx={"E"})})}
    with pytest.raises(ValueError, match=r"^Tile \(0, 0\) color 0 receives from RAMP but no task "
                                         r"of its PE sends color 0$"):
        ArrayProgram(ArrayParams.build(rows=1, cols=1), tiles=tiles)


def test_route_cycle():
    ring = {(0, 0): Route(rx={"S"}, tx={"E"}), (0, 1): Route(rx={"W"}, tx={"S"}),
            (1, 1): Route(rx={"N"}, tx={"W"}), (1, 0): Route(rx={"E"}, tx={"N"})}
    tiles = {t: TileProgram(routes={2: r}) for t, r in ring.items()}
    with pytest.raises(ValueError, match=r"^Color 2 routes form a cycle: \(0, 0\) -> \(0, 1\) "
                                         r"-> \(1, 1\) -> \(1, 0\) -> \(0, 0\)$"):
        ArrayProgram(ArrayParams.build(rows=2, cols=2), tiles=tiles)


def test_memory_image_does_not_fit():
    tiles = {(0, 0): TileProgram(mem={4000: [0] * 200})}
    with pytest.raises(ValueError, match=r"^Tile \(0, 0\): The mem image block at 4000 \(200 "
                                         r"words\) does not fit in mem \(0\.\.4095\)$"):
        ArrayProgram(ArrayParams.build(rows=1, cols=1), tiles=tiles)


def test_two_programs_claim_one_color():
    a = column_program()
    with pytest.raises(ValueError, match=r"^Tile \(0, 0\) color 0 is claimed by two programs$"):
        a.merge(column_program())


def test_input_on_a_color_the_edge_tile_does_not_receive():
    tiles = {(0, 0): TileProgram(routes={0: Route(rx={"N"}, tx={"S"})})}
    with pytest.raises(ValueError, match=r"^Input at edge N position 0 carries color 3, which "
                                         r"tile \(0, 0\) does not receive from that edge$"):
        ArrayProgram(ArrayParams.build(rows=1, cols=1), tiles=tiles,
                     inputs={("N", 0): [Wavelet(3, 0)]})
