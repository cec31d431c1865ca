"""The Verilator runner: a configuration is built once and reused by every run that asks for it."""

import pytest

from wafer_engine.rtl.harness.uart_pair import UartPair
from wafer_engine.sw.flows.verilog import write_verilog
from wafer_engine.sw.sim import runner


def test_a_second_build_of_the_same_verilog_reuses_the_first(monkeypatch):
    """Same folder, Verilog and options: the second call returns without running Verilator.
    The folder is test_uart_rtl[4]'s, so the suite builds it once."""
    folder = runner.sim_dir("uart", "d4")
    runner.build(unit="uart", config_name="d4", toplevel="uart",
                 verilog_path=lambda out: write_verilog(UartPair(4), "uart", out))
    assert (folder / "uart").exists() and (folder / "build.json").exists()
    verilog = folder / "uart.v"

    def no_rebuild(*args):
        raise AssertionError("rebuilt an unchanged configuration")

    monkeypatch.setattr(runner, "_build", no_rebuild)
    _, build_dir = runner.build(unit="uart", config_name="d4", verilog_path=verilog,
                                toplevel="uart")
    assert build_dir == folder


def test_testcase_and_leave_out_exclude_each_other():
    with pytest.raises(ValueError, match=r"^Give either testcase or leave_out, not both$"):
        runner.run_cocotb(unit="uart", config_name="d4", verilog_path="uart.v",
                          toplevel="uart", test_module="m", testcase="a", leave_out="b")
