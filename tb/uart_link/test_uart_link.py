"""cocotb test of the board top without clock and pins (:class:`wafer_engine.rtl.board.link_top.LinkTop`):
workloads run through :func:`wafer_engine.sw.backends.run.run_workload(work, "fpga", link)` over a bit-level
serial line must give the golden backend's outputs and work counters.

Parameters (WAFER_TB_PARAMS): ``divisor``, ``workloads`` (pickle of a list of
:class:`wafer_engine.fabric.workloads.Workload`), ``result`` (where to pickle what happened), ``cli_dir``
(a folder with ``a.npy`` and ``x.npy`` for ``wafer gemv``) and ``cli_array`` (its array and
PE flags, those of the simulated top).
"""

import io
import json
import os
import pickle
from contextlib import nullcontext, redirect_stdout
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.task import bridge
from cocotb.triggers import RisingEdge

from wafer_engine.sw.hostlink import client as link_client
from wafer_engine.sw.backends.run import run_workload
from wafer_engine.sw.cli.main import main

from wafer_engine.tb.uart_link.serial_sim import SimSerial

PARAMS = json.loads(os.environ.get("WAFER_TB_PARAMS", "{}"))


#: PE counters that count work, not cycles: the FPGA backend must read the golden values.
WORK_COUNTERS = ("fmac_issues", "wavelets_in", "wavelets_out", "zeros_skipped", "no_task",
                 "errors")


def per_edge(outputs):
    """Wavelets per edge in order, cycles dropped: what must match between backends."""
    return {edge: [w for _, w in stream] for edge, stream in outputs.items() if stream}


async def start(dut):
    """Clock, reset, and the simulated serial port on the top's pins."""
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.rx.value = 1
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    link = SimSerial(dut, PARAMS["divisor"])
    link.start()
    return link


@cocotb.test()
async def workloads_match_golden(dut):
    with open(PARAMS["workloads"], "rb") as f:
        works = pickle.load(f)
    link = await start(dut)
    report = []
    for work in works:
        before = link.cycles
        result = await bridge(run_workload)(work, "fpga", link)
        golden = run_workload(work, "golden")
        assert per_edge(result.outputs) == per_edge(golden.outputs), \
            f"FPGA outputs {per_edge(result.outputs)} != golden {per_edge(golden.outputs)}"
        # The board has no cycle count for the chain: that figure is the model's and says so.
        # (wavelets_in, the workload's size as the host counts the frames the board
        # confirmed, is no result to compare; the board's work counters below show what the
        # PEs took in.)
        assert result.predicted == {"config_cycles"}, result.predicted
        assert golden.predicted == frozenset()
        assert result.counters.keys() == golden.counters.keys()
        for tile, golden_counts in golden.counters.items():
            board = result.counters[tile]
            assert {k: board[k] for k in WORK_COUNTERS} == \
                {k: golden_counts[k] for k in WORK_COUNTERS}, \
                f"tile {tile}: {board} != {golden_counts}"
        report.append({"outputs": sum(len(s) for s in golden.outputs.values()),
                       "counters": {str(t): c for t, c in result.counters.items()},
                       "golden_counters": {str(t): c for t, c in golden.counters.items()},
                       "cycles": link.cycles - before, "golden_cycles": golden.cycles,
                       "bytes_written": link.bytes_written, "bytes_read": link.bytes_read})
    with open(PARAMS["result"], "w") as f:
        json.dump(report, f)


@cocotb.test()
async def cli_runs_on_the_board(dut):
    """``wafer gemv --backend fpga --port ...`` with the port opened on the simulated line
    writes the same y, bit for bit, as ``--backend golden``, with the same work counts."""
    folder = Path(PARAMS["cli_dir"])
    link = await start(dut)
    argv = ["gemv", "--matrix", str(folder / "a.npy"), "--vector", str(folder / "x.npy"),
            *PARAMS["cli_array"], "--json"]
    link_client.open_serial = lambda port, baud: nullcontext(link)
    out = io.StringIO()
    with redirect_stdout(out):
        status = await bridge(main)(argv + ["--out", str(folder / "fpga.npy"), "--backend",
                                            "fpga", "--port", "sim"])
        assert status == 0
        assert main(argv + ["--out", str(folder / "golden.npy")]) == 0
    board, golden = (json.loads(line) for line in out.getvalue().splitlines())
    assert (folder / "fpga.npy").read_bytes() == (folder / "golden.npy").read_bytes()
    # Measured on the board: its counters and outputs; its cycles include the UART's time.
    for key in ("fmac_ops", "zero_skipped", "wavelets_out"):
        assert board[key] == golden[key], f"{key}: board {board[key]} != golden {golden[key]}"
    assert board["backend"] == "fpga" and board["cycles"] > golden["cycles"]
    assert board["predicted"] == ["config_cycles"] and golden["predicted"] == []
