"""A component refused for a bad parameter is not reported as created but never used: the
parameters are checked before the object exists."""

import gc
import warnings

import pytest
from amaranth.back import rtlil
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from wafer_engine.rtl.all_idle import AllIdle
from wafer_engine.rtl.board.link_top import LinkTop
from wafer_engine.rtl.board.pin_wrapper import PinWrapper
from wafer_engine.rtl.counter_read import TileCounterSelect
from wafer_engine.rtl.host_link import HostLink
from wafer_engine.rtl.uart import UartRx, UartTx


class _CheckedLate(wiring.Component):
    """Checks its parameter in ``__init__``, after the object exists: the pattern that warns."""
    a: In(1)

    def __init__(self, x):
        if x < 0:
            raise ValueError(f"x must not be negative, not {x!r}")
        super().__init__()

    def elaborate(self, platform):
        return Module()


def _warnings_of_refused(make):
    """Messages of the warnings emitted while ``make()`` raises ``ValueError`` and the
    garbage is collected."""
    # Amaranth reports unused components only once anything has been elaborated.
    rtlil.convert(AllIdle(1))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError):
            make()
        gc.collect()
    return [str(w.message) for w in caught]


def test_checking_in_init_would_be_reported():
    messages = _warnings_of_refused(lambda: _CheckedLate(-1))
    assert len(messages) == 1 and messages[0].endswith("created but never used")


@pytest.mark.parametrize("make", [
    lambda: UartTx(2),
    lambda: UartRx(70000),
    lambda: HostLink(edges=0, colors=3, quiet_cycles=10),
    lambda: LinkTop(rows=1, cols=1, colors=3, divisor=2),
    lambda: LinkTop(rows=0, cols=1, colors=3, divisor=4),
    lambda: TileCounterSelect(0),
    lambda: AllIdle(4097),
    lambda: PinWrapper("m", [("inout", "a", 1)]),
], ids=["uart_tx", "uart_rx", "host_link", "link_top_divisor", "link_top_rows",
        "tile_counter_select", "all_idle", "pin_wrapper"])
def test_refused_component_is_not_reported_unused(make):
    assert _warnings_of_refused(make) == []
