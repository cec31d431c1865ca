"""The Verilator runner: a configuration is built once and reused by every run that asks for it."""

import io

import pytest

from wafer_engine.rtl.harness.uart_pair import UartPair
from wafer_engine.sw.flows.verilog import write_verilog
from wafer_engine.sw.progress import Progress
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
    monkeypatch.setattr(runner, "_REPORTED", set())
    out = io.StringIO()
    _, build_dir = runner.build(unit="uart", config_name="d4", verilog_path=verilog,
                                toplevel="uart", progress=Progress(out))
    assert build_dir == folder
    # The reuse is said, with where the build is cached, once per process.
    assert out.getvalue().endswith(f"] Verilator build of uart d4 (top uart): cached in "
                                   f"{folder}, unchanged\n")
    again = io.StringIO()
    runner.build(unit="uart", config_name="d4", verilog_path=verilog, toplevel="uart",
                 progress=Progress(again))
    assert again.getvalue() == ""


def test_a_build_says_what_it_builds_and_how_long_it_took(tmp_path, monkeypatch):
    """A fresh build: one line when it starts (design, parameters, folder) and one when it
    ends, with its time."""
    monkeypatch.setattr(runner, "sim_dir", lambda unit, config: tmp_path / unit / config)
    monkeypatch.setattr(runner, "_build", lambda *args: None)
    monkeypatch.setattr(runner, "_keep_runtime", lambda *args: None)
    verilog = tmp_path / "x.v"
    verilog.write_text("module x; endmodule\n")
    out = io.StringIO()
    runner.build(unit="uart", config_name="d7", verilog_path=verilog, toplevel="x",
                 progress=Progress(out))
    lines = [line.split("] ", 1)[1] for line in out.getvalue().splitlines()]
    where = tmp_path / "uart" / "d7"
    assert lines == [f"Verilator build of uart d7 (top x) in {where} ...",
                     f"Verilator build of uart d7 (top x) in {where} done (0 s)"]


def test_testcase_and_leave_out_exclude_each_other():
    with pytest.raises(ValueError, match=r"^Give either testcase or leave_out, not both$"):
        runner.run_cocotb(unit="uart", config_name="d4", verilog_path="uart.v",
                          toplevel="uart", test_module="m", testcase="a", leave_out="b")
