"""`wafer verilog` writes Verilog that Verilator lints clean, with only the documented waivers."""

import pytest

from wafer_engine.sw.cli.main import main
from wafer_engine.sw.sim.verilator import lint


@pytest.mark.parametrize("top,colors", [("router", 1), ("router", 24), ("pe", 4)])
def test_verilog_lints_clean(tmp_path, capsys, top, colors):
    assert main(["verilog", "--top", top, "--colors", str(colors), "-o", str(tmp_path)]) == 0
    path = capsys.readouterr().out.strip()
    assert path == str(tmp_path / f"{top}.v")
    text = open(path).read()
    assert f"module {top}(" in text
    ok, output = lint(path, top=top)
    assert ok, output


def test_lint_catches_a_real_problem(tmp_path):
    bad = tmp_path / "bad.v"
    # Two drivers on one wire: an error the waivers must not hide.
    bad.write_text("module bad(input a, input b, output y);\n"
                   "  assign y = a;\n  assign y = b;\nendmodule\n")
    ok, output = lint(bad, top="bad")
    assert not ok
    assert "%Warning-MULTIDRIVEN" in output


def test_verilog_rejects_bad_parameters(capsys, tmp_path):
    assert main(["verilog", "--colors", "25", "-o", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (
        "wafer verilog: error: --colors 25: Color count must be an integer between 1 and 24, "
        "not 25")
    assert main(["verilog", "--top", "cpu", "-o", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (
        "wafer verilog: error: --top must be one of router, pe, tile, array, not 'cpu'")
    assert not (tmp_path / "router.v").exists()
