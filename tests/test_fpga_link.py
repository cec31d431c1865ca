"""The FPGA backend over the UART host link, in simulation: the board top without its clock
and pins (UART, receive FIFO, link core and a 1x1 array) on Verilator, driven bit by bit by a
serial-line model, runs a GEMV and a GEMM and must give the golden backend's outputs and the
PEs' work counters (read back with COUNTER frames)."""

import json
import pickle
import re

import numpy as np
import pytest
from amaranth.back import verilog

from wafer_engine.fabric.model.array_model import ArrayModel
from wafer_engine.sw.flows.host_array import (ALL_IDLE_NAME, COUNTER_SELECT_NAME, HOST_ARRAY_NAME,
                                              TILE_SELECT_NAME, write_host_array_verilog)
from wafer_engine.fabric.workloads import gemm_program, gemv_program
from wafer_engine.rtl.board.link_top import LinkTop
from wafer_engine.rtl.host_link import array_edges
from wafer_engine.rtl.pe import COUNTERS
from wafer_engine.sw.hostlink.client import FpgaLink
from wafer_engine.sw.sim.runner import run_cocotb, sim_dir
from wafer_engine.rtl.params import ArrayParams

#: The smallest PE the two mappings run on: three colors (GEMM's minimum) and small memories,
#: to keep the Verilator build short.
PE = dict(colors=3, mem_words=256, acc_words=256, max_len=64)
#: Clock cycles per UART bit: the smallest the receiver allows, for a short simulation.
DIVISOR = 4


def _workloads(seed=7):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((6, 5)) * (rng.random((6, 5)) < 0.6)
    x = rng.standard_normal(5) * (rng.random(5) < 0.7)
    w = rng.standard_normal((4, 3)) * (rng.random((4, 3)) < 0.5)
    xs = rng.standard_normal((3, 2))
    return [gemv_program(a, x, ArrayParams.build(rows=1, cols=1, **PE), relu=False),
            gemm_program(w, xs, ArrayParams.build(rows=1, cols=1, **PE), relu=True)]


def test_gemv_and_gemm_over_uart_match_golden():
    config = "1x1"
    folder = sim_dir("uart_link", config)
    array = write_host_array_verilog(ArrayParams.build(rows=1, cols=1, **PE), out_dir=folder)
    top = verilog.convert(LinkTop(rows=1, cols=1, colors=PE["colors"], divisor=DIVISOR),
                          name="link_top", emit_src=False)
    source = folder / "link_top.v"
    text = top + "\n" + array.read_text()
    if not source.exists() or source.read_text() != text:
        source.write_text(text)
    works, result = folder / "workloads.pickle", folder / "result.json"
    with open(works, "wb") as f:
        pickle.dump(_workloads(), f)
    result.unlink(missing_ok=True)
    cli_dir = folder / "cli"
    cli_dir.mkdir(exist_ok=True)
    rng = np.random.default_rng(11)
    np.save(cli_dir / "a.npy", rng.standard_normal((7, 4)))
    np.save(cli_dir / "x.npy", rng.standard_normal(4) * (rng.random(4) < 0.6))
    for old in ("fpga.npy", "golden.npy"):
        (cli_dir / old).unlink(missing_ok=True)
    cli_array = ["--rows", "1", "--cols", "1"] + [
        f"--{k.replace('_', '-')}={v}" for k, v in PE.items()]
    run_cocotb(unit="uart_link", config_name=config, verilog_path=source, toplevel="link_top",
               test_module="wafer_engine.tb.uart_link.test_uart_link",
               params={"divisor": DIVISOR, "workloads": str(works), "result": str(result),
                       "cli_dir": str(cli_dir), "cli_array": cli_array})
    report = json.loads(result.read_text())
    assert len(report) == 2 and all(r["outputs"] > 0 for r in report)


def test_frame_port_order_is_the_models_edge_order():
    for rows, cols in ((1, 1), (2, 3), (4, 4)):
        program = gemv_program(np.ones((rows, cols)), np.ones(cols),
                               ArrayParams.build(rows=rows, cols=cols))
        assert array_edges(rows, cols) == ArrayModel(program.program).edges


def test_host_array_adds_idle_and_counter_port_to_the_top(tmp_path):
    path = write_host_array_verilog(ArrayParams.build(colors=2, mem_words=16, acc_words=16, rows=2, cols=2),
                                    out_dir=tmp_path)
    text = path.read_text()
    assert f"module {HOST_ARRAY_NAME}(clk, rst, idle, counter_tile, counter_id, counter_value, " \
        in text
    # The counter read and idle modules are Amaranth's, in the same file as the tile.
    for name in (COUNTER_SELECT_NAME, TILE_SELECT_NAME, ALL_IDLE_NAME, "tile"):
        assert re.search(rf"^module {name}\(", text, re.M), name
    # Per tile, every counter by name into a counter_select beside it; then the tiles by
    # row * cols + col into the array-level select; idle of every tile into the AND.
    for r in range(2):
        for c in range(2):
            inst = re.search(rf"^  {COUNTER_SELECT_NAME} t{r}_{c}_counter_select \((.*?)\);",
                             text, re.M | re.S).group(1)
            assert re.findall(r"\.counters__(\w+)\(t(\d)_(\d)_(\w+)\)", inst) == \
                [(name, str(r), str(c), name) for name in COUNTERS]
            assert f".counter_id(counter_id)" in inst and f".value(t{r}_{c}_counter)" in inst
    inst = re.search(rf"^  {TILE_SELECT_NAME} \w+ \((.*?)\);", text, re.M | re.S).group(1)
    tiles = re.findall(r"\.values__(\d+)\(t(\d)_(\d)_counter\)", inst)
    assert sorted((int(i), int(r) * 2 + int(c)) for i, r, c in tiles) == [(i, i) for i in range(4)]
    assert ".tile(counter_tile)" in inst and ".value(counter_value)" in inst
    inst = re.search(rf"^  {ALL_IDLE_NAME} \w+ \((.*?)\);", text, re.M | re.S).group(1)
    idles = re.findall(r"\.tile_idle__(\d+)\(t(\d)_(\d)_idle\)", inst)
    assert sorted((int(i), int(r) * 2 + int(c)) for i, r, c in idles) == [(i, i) for i in range(4)]
    assert ".idle(idle)" in inst


@pytest.mark.parametrize("window", [6, 7.5, True])
def test_bad_window(window):
    with pytest.raises(ValueError, match=r"^Window must be an integer of at least 7 bytes \(one "
                                         rf"WAVELET frame\), not {window!r}$"):
        FpgaLink(None, [], window)


@pytest.mark.parametrize("kwargs,message", [
    (dict(rows=0), "Row count must be an integer between 1 and 64, not 0"),
    (dict(cols=65), "Column count must be an integer between 1 and 64, not 65"),
    (dict(rx_depth=1), "Receive FIFO depth (bytes) must be an integer between 2 and 4096, "
                       "not 1"),
    (dict(divisor=2), "UART divisor (clock cycles per bit) must be an integer between 4 and "
                      "65536, not 2"),
    (dict(colors=0), "Color count must be an integer between 1 and 24, not 0"),
])
def test_bad_link_top_parameters(kwargs, message):
    args = dict(rows=1, cols=1, colors=3, divisor=4) | kwargs
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        LinkTop(**args)


def test_fpga_backend_needs_a_link():
    from wafer_engine.sw.backends.run import run_workload
    with pytest.raises(ValueError, match="The fpga backend needs a link to the board"):
        run_workload(None, "fpga")
    with pytest.raises(ValueError, match="Backend must be one of golden, verilator, fpga, not 'x'"):
        run_workload(None, "x")
