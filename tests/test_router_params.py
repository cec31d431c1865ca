"""Bad router parameters and routes are rejected with messages that name the bad value."""

import re

import pytest

from wafer_engine.fabric.model.router_model import RouterModel
from wafer_engine.rtl.ports import Port, parse_port
from wafer_engine.rtl.route import Route, check_routes
from wafer_engine.rtl.router import Router
from wafer_engine.rtl.wavelet import LinkSignature


@pytest.mark.parametrize("colors", [0, 25, -1, "4", 2.0, True])
def test_colors_out_of_range(colors):
    message = "^" + re.escape(f"Color count must be an integer between 1 and 24, not {colors!r}")
    with pytest.raises(ValueError, match=message + "$"):
        Router(colors=colors, depth=2)
    with pytest.raises(ValueError, match=r"^Color count must be"):
        LinkSignature(colors)
    with pytest.raises(ValueError, match=r"^Color count must be"):
        RouterModel(colors=colors, depth=2)


@pytest.mark.parametrize("depth", [0, -3, 65, None])
def test_depth_out_of_range(depth):
    with pytest.raises(ValueError, match=rf"^Buffer depth must be an integer between 1 and 64, "
                                         rf"not {depth!r}$"):
        Router(colors=4, depth=depth)


def test_unknown_port():
    with pytest.raises(ValueError, match=r"^Color 2 route tx: Port must be one of N, E, S, W, "
                                         r"RAMP, not 'X'$"):
        Router(colors=4, depth=2, routes={2: Route(rx={"N"}, tx={"X"})})
    with pytest.raises(ValueError, match=r"^Color 0 route rx: Port must be one of N, E, S, W, "
                                         r"RAMP, not 7$"):
        check_routes({0: Route(rx={7}, tx={"S"})}, 1)


def test_u_turn():
    with pytest.raises(ValueError, match=r"^Color 1 route is a U-turn: port E is in both rx and "
                                         r"tx$"):
        Router(colors=2, depth=2, routes={1: Route(rx={"E", "N"}, tx={"E", "S"})})


@pytest.mark.parametrize("lo,hi", [(10, 9), (0xFFFF, 0)])
def test_range_filter_lo_above_hi(lo, hi):
    with pytest.raises(ValueError, match=rf"^Color 0 range filter lo {lo} is greater than "
                                         rf"hi {hi}$"):
        Router(colors=1, depth=2, routes={0: Route(rx={"N"}, tx={"RAMP"}, lo=lo, hi=hi)})


@pytest.mark.parametrize("bound", [-1, 0x10000])
def test_range_filter_bound_out_of_range(bound):
    with pytest.raises(ValueError, match=rf"^Color 0 range filter hi must be an integer between "
                                         rf"0 and 65535, not {bound}$"):
        check_routes({0: Route(rx={"N"}, tx={"RAMP"}, hi=bound)}, 1)


def test_route_color_out_of_range():
    with pytest.raises(ValueError, match=r"^Route color must be an integer between 0 and 3, "
                                         r"not 4$"):
        Router(colors=4, depth=2, routes={4: Route(rx={"N"}, tx={"S"})})


def test_receives_but_never_transmits():
    with pytest.raises(ValueError, match=r"^Color 0 route receives on N\+W but transmits "
                                         r"nowhere$"):
        Router(colors=1, depth=2, routes={0: Route(rx={"N", "W"})})


def test_route_must_be_a_route():
    with pytest.raises(ValueError, match=r"^Color 0 route must be a Route, not \('N', 'S'\)$"):
        check_routes({0: ("N", "S")}, 1)


def test_port_names():
    assert parse_port("ramp") is Port.RAMP
    assert parse_port(1) is Port.E
    assert Port.N.opposite is Port.S and Port.E.opposite is Port.W
    with pytest.raises(ValueError, match=r"^The RAMP port has no opposite"):
        Port.RAMP.opposite
