"""The hierarchical array top (row modules) against the flat one: Yosys accepts it, and after
flattening, with ``tile`` a black box, every tile input and every top output is driven by the
same tile output or top input in both forms (the same netlist, so the same behaviour)."""

import json
import re
import subprocess

import pytest
from amaranth.back import verilog

from wafer_engine.rtl.params import ArrayParams
from wafer_engine.rtl.tile import Tile
from wafer_engine.sw.flows.array_verilog import (FLAT_TILES_MAX, TOP_NAME, array_ports,
                                                 array_rows_verilog, array_top_verilog,
                                                 row_verilog, write_array_verilog)
from wafer_engine.sw.flows.synth import yosys_path

PARAMS = ArrayParams.build(colors=2)
_PORT = re.compile(r"^\s*(input|output)\s+(?:\[(\d+):0\]\s+)?(\S+);$", re.M)


@pytest.fixture(scope="module")
def tile_stub():
    """A black-box ``tile`` with the real tile's ports (taken from its Verilog)."""
    text = verilog.convert(Tile(PARAMS), name="tile", emit_src=False)
    module = text[text.index("module tile("):]
    module = module[:module.index("endmodule")]
    ports = _PORT.findall(module)
    assert len(ports) > 30
    decls = [f"  {d} {'[%s:0] ' % hi if hi else ''}{name};" for d, hi, name in ports]
    return "\n".join(["(* blackbox *)", f"module tile({', '.join(p[2] for p in ports)});"]
                     + decls + ["endmodule", ""])


def _tile_of(cell):
    """(row, col) of a tile instance, flat ``tile_<r>_<c>`` or hierarchical
    ``row_<r>.tile_<c>``."""
    found = re.fullmatch(r"tile_(\d+)_(\d+)|row_(\d+)\.tile_(\d+)", cell)
    assert found, cell
    return tuple(int(g) for g in found.groups() if g is not None)


def connectivity(tmp_path, name, text):
    """For a top ``wafer_array`` in ``text``: ``{sink: source}`` over every bit, flattened by
    Yosys. A sink is a tile input bit or a top output bit, a source a tile output bit or a top
    input bit (``None``: undriven)."""
    (tmp_path / f"{name}.v").write_text(text)
    subprocess.run([str(yosys_path()), "-q", "-p",
                    f"read_verilog {name}.v; hierarchy -check -top {TOP_NAME}; flatten; "
                    f"opt_clean -purge; write_json {name}.json"],
                   cwd=tmp_path, check=True, capture_output=True, timeout=120)
    module = json.loads((tmp_path / f"{name}.json").read_text())["modules"][TOP_NAME]
    sources, sinks = {}, {}
    for port, info in module["ports"].items():
        if info["direction"] == "input":
            sources.update({b: ("top", port, i) for i, b in enumerate(info["bits"])})
    cells = module["cells"].items()
    for cell, info in cells:
        assert info["type"] == "tile", cell
        for port, bits in info["connections"].items():
            if info["port_directions"][port] == "output":
                for i, b in enumerate(bits):
                    assert b not in sources, (cell, port)
                    sources[b] = ("tile", _tile_of(cell), port, i)
    for cell, info in cells:
        for port, bits in info["connections"].items():
            if info["port_directions"][port] == "input":
                sinks.update({("tile", _tile_of(cell), port, i): sources.get(b)
                              for i, b in enumerate(bits)})
    for port, info in module["ports"].items():
        if info["direction"] == "output":
            sinks.update({("top", port, i): sources.get(b) for i, b in enumerate(info["bits"])})
    return sinks


@pytest.mark.parametrize("rows,cols", [(1, 1), (2, 2), (3, 4)])
def test_hierarchical_top_is_the_flat_netlist(tmp_path, tile_stub, rows, cols):
    params = PARAMS.replace(rows=rows, cols=cols)
    flat = connectivity(tmp_path, "flat", tile_stub + array_top_verilog(params))
    hier = connectivity(tmp_path, "hier", tile_stub + array_rows_verilog(params))
    assert None not in flat.values()
    ports = sum(w for d, _, w in array_ports(params) if d == "output")
    inputs_per_tile = len([k for k in flat if k[0] == "tile"]) // (rows * cols)
    assert len(flat) == ports + rows * cols * inputs_per_tile
    assert hier == flat


def test_a_wrong_row_is_caught(tmp_path, tile_stub):
    """The comparison sees a row whose chain runs the wrong way (so it can fail)."""
    params = PARAMS.replace(rows=2, cols=3)
    flat = connectivity(tmp_path, "flat", tile_stub + array_top_verilog(params))
    wrong = array_rows_verilog(params) + "\n" + row_verilog(params, "east").replace(
        "module wafer_row_east(", "module wafer_row_wrong(")
    wrong = wrong.replace("wafer_row_west row_1 (", "wafer_row_wrong row_1 (")
    hier = connectivity(tmp_path, "wrong", tile_stub + wrong)
    differ = {k for k in flat if flat[k] != hier.get(k)}
    assert differ and all("cfg" in k[2] for k in differ if k[0] == "tile")


def test_write_chooses_the_form_by_size(tmp_path):
    small, _ = write_array_verilog(PARAMS.replace(rows=2, cols=2), tmp_path / "small")
    assert "wafer_row_east" not in small.read_text()
    forced, _ = write_array_verilog(PARAMS.replace(rows=2, cols=2), tmp_path / "forced",
                                    hierarchical=True)
    text = forced.read_text()
    assert "module wafer_row_east(" in text and "module wafer_row_west(" in text
    assert "wafer_row_west row_1 (" in text
    assert FLAT_TILES_MAX == 64 * 64


def test_a_large_array_is_hierarchical_and_small(tmp_path):
    """65 x 64 tiles, one over the flat limit: rows, and far smaller than the flat text."""
    params = PARAMS.replace(rows=65, cols=64)
    path, seconds = write_array_verilog(params, tmp_path)
    text = path.read_text()
    assert "wafer_row_west row_64 (" not in text and "wafer_row_east row_64 (" in text
    # The flat top of 65 rows would be about 65 / 4 times that of 4 rows; the rows as modules
    # (and the one tile module) are at least four times smaller.
    assert len(text) < len(array_top_verilog(params.replace(rows=4))) * 65 / 4 / 4
    assert seconds < 30


def test_bad_form_and_direction():
    with pytest.raises(ValueError, match=r"^hierarchical must be None, False or True, not 'yes'$"):
        write_array_verilog(PARAMS, "unused", hierarchical="yes")
    with pytest.raises(ValueError, match=r"^Row direction must be 'east' or 'west', not 'up'$"):
        row_verilog(PARAMS, "up")


def test_wafer_verilog_writes_the_full_grid(tmp_path, capsys):
    """`wafer verilog --rows 750 --cols 994` (the WSE-2's grid) chooses the hierarchical form by
    itself: one file, rows as modules, well under 50 MB."""
    from wafer_engine.sw.cli.main import main
    assert main(["verilog", "--rows", "750", "--cols", "994", "-o", str(tmp_path)]) == 0
    path = tmp_path / "wafer_array.v"
    assert capsys.readouterr().out.strip() == str(path)
    text = path.read_text()
    assert path.stat().st_size < 50e6
    assert "module wafer_row_east" in text and "module wafer_row_west" in text
    assert text.count("  wafer_row_") == 750
