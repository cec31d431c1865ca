"""``wafer synth``: argument errors, the capacity check before place-and-route, the pin
wrapper, and (slow) real synthesis and place-and-route runs.

The 1x1 ECP5 run is in the default suite (about 2 minutes on two cores: Yosys 30 s, nextpnr
100 s; the very first YoWASP run also compiles its WebAssembly, about 50 s more); larger ones
and the board bitstreams are ``regress``."""

import json
import re

import pytest

from wafer_engine.sw.flows.fpga_targets import TARGETS
from wafer_engine.sw.flows.pin_wrapper import PIN_WRAPPER_NAME, write_pin_wrapper
from wafer_engine.sw.flows.pnr import check_fits, resources, synthesize
from wafer_engine.sw.cli.main import main

#: The smallest array the mappings run on: 1x1, three colors, small memories.
SMALL = ["--colors", "3", "--mem-words", "256", "--acc-words", "256"]


def _error(capsys, argv):
    """The one error line of a refused ``wafer`` run (after any progress lines)."""
    assert main(argv) == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize("argv,message", [
    (["synth", "--target", "virtex"],
     "--target virtex: Target must be one of ecp5-85k, ecp5-25k, ice40-up5k, not 'virtex'"),
    (["synth", "--board", "arty"],
     "--board arty: Board must be one of ulx3s-85f, icebreaker, not 'arty'"),
    (["synth", "--rows", "0"], "--rows 0: Row count must be an integer between 1 and 1024, not 0"),
    (["synth", "--board", "icebreaker", "--cols", "-1"],
     "--cols -1: Column count must be an integer between 1 and 1024, not -1"),
    (["synth", "--colors", "25"],
     "--colors 25: Color count must be an integer between 1 and 24, not 25"),
    (["synth", "--freq", "0"], "--freq 0.0: Timing goal must be a positive number of MHz"),
    (["synth", "--mem-words", "0"],
     "--mem-words 0: Memory size (words) must be an integer between 1 and 65536, not 0"),
    (["synth", "--baud", "9600"], "--baud is for --board builds (a bare array has no UART)"),
    # 25 MHz / 3 Mbit/s: divisor 8 gives 3.125 Mbit/s.
    (["synth", "--board", "ulx3s-85f", "--baud", "3000000"],
     "Baud rate 3000000 is 4.2 % off at 25000000 Hz (divisor 8); the limit is 2 %"),
    (["synth", "--board", "icebreaker", "--baud", "0"],
     "--baud 0: Baud rate must be an integer between 300 and 12000000, not 0"),
    (["synth", "--seed", "3"], "--seed is for --board builds"),
    (["synth", "--board", "ulx3s-85f", "--seed", "0"],
     "--seed 0: Placement seed must be an integer between 1 and 2147483647, not 0"),
])
def test_bad_arguments(capsys, argv, message):
    assert _error(capsys, argv) == f"wafer synth: error: {message}"


def test_capacity_check_names_what_is_over():
    check_fits({"luts": 5280, "ffs": 10, "brams": 30, "dsps": 8}, "ice40-up5k", "x")
    with pytest.raises(ValueError, match=re.escape(
            "A 2x2 array does not fit ice40-up5k: synthesis needs luts 9000 > 5280, "
            "dsps 9 > 8 available")):
        check_fits({"luts": 9000, "ffs": 10, "brams": 2, "dsps": 9}, TARGETS["ice40-up5k"],
                   "A 2x2 array")


def test_resources_count_logic_cells_as_nextpnr():
    by_type = {"LUT4": 100, "CCU2C": 10, "TRELLIS_DPR16X4": 2, "TRELLIS_FF": 50, "DP16KD": 3,
               "MULT18X18D": 1, "PFUMX": 9}
    assert resources(by_type, "ecp5") == {"luts": 128, "ffs": 50, "brams": 3, "dsps": 1}
    assert resources({"SB_LUT4": 7, "SB_DFFE": 2, "SB_DFF": 1, "SB_CARRY": 4},
                     "ice40")["ffs"] == 3


def test_pin_wrapper_feeds_every_input_and_folds_every_output(tmp_path):
    inner = ("module m(clk, rst, a, b, y, z);\n  input clk;\n  input rst;\n  input [3:0] a;\n"
             "  input b;\n  output [1:0] y;\n  output z;\n"
             "  reg [1:0] q; always @(posedge clk) q <= a[1:0] ^ a[3:2];\n"
             "  assign y = q; assign z = b;\nendmodule\n")
    ports = [("input", "clk", 1), ("input", "rst", 1), ("input", "a", 4),
             ("input", "b", 1), ("output", "y", 2), ("output", "z", 1)]
    wrapper = write_pin_wrapper("m", ports, tmp_path)
    text = wrapper.read_text()
    assert ".a(shift[3:0])" in text and ".b(shift[4])" in text
    (tmp_path / "m.v").write_text(inner)
    r = synthesize([tmp_path / "m.v", wrapper], PIN_WRAPPER_NAME, "ice40", tmp_path)
    # 5 shift-register bits, the 2 bits of q, the output register: nothing optimised away.
    assert r["estimate"]["ffs"] == 8


def test_too_big_for_the_target_fails_before_place_and_route(capsys, tmp_path):
    """Nine one-color tiles need about twice the ECP5-25F's logic: synthesis of one tile
    (15 to 30 s) shows it, and nextpnr never runs. Their flip-flops (the routers' arrival
    registers among them) are just over its 24,288 too; their 27 DSP blocks (3 per PE) fit
    its 28."""
    assert main(["synth", "--target", "ecp5-25k", "--rows", "3", "--cols", "3",
                 "--colors", "1", "--mem-words", "64", "--acc-words", "64",
                 "-o", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    # One line per stage as it starts and ends, with the elapsed time, in order.
    stages = [re.sub(r"^\[\s*\d+:\d\d\] ", "", line) for line in lines[:-1]]
    assert stages[0].startswith("A 3x3 array (1 color, 64 memory words, 64 accumulators) on "
                                "ecp5-25k, in ")
    assert [re.sub(r" \(\d+ s\)$| after \d+ s$", "", s) for s in stages[1:]] == [
        "elaboration (Amaranth to Verilog) ...", "elaboration (Amaranth to Verilog) done",
        "synthesis (yosys, ecp5) ...", "synthesis (yosys, ecp5) done",
        "capacity check ...", "capacity check failed"]
    err = lines[-1]
    # The logic cells are short; the flip-flops are near the 25F's count (9 tiles' pipeline and
    # arrival registers), so their shortfall is named when there is one.
    assert re.fullmatch(r"wafer synth: error: A 3x3 array \(1 color, 64 memory words, 64 "
                        r"accumulators\) does not fit ecp5-25k: synthesis needs luts \d+ > "
                        r"24288(, ffs \d+ > 24288)? available", err), err
    assert not (tmp_path / "pnr.log").exists()


def _synth_json(capsys, argv):
    assert main(["synth", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.regress_fpga
def test_smallest_array_on_ecp5(capsys, tmp_path):
    r = _synth_json(capsys, ["--target", "ecp5-85k", "--rows", "1", "--cols", "1", *SMALL,
                             "-o", str(tmp_path)])
    assert {"luts", "ffs", "dsps", "brams", "fmax_mhz"} <= set(r)
    # The PE's memories (256 x 16, 256 x 32) are one DP16KD each; fp16 multiplies use DSPs.
    assert r["brams"] == 2 and r["dsps"] >= 1
    assert 0.8 * r["estimate"]["luts"] <= r["luts"] <= 1.2 * r["estimate"]["luts"]
    assert r["fmax_mhz"] > 10 and r["ffs"] > 1000


def test_the_default_tile_is_refused_on_the_up5k_by_its_counts(capsys, tmp_path):
    """The default tile synthesises for iCE40, which has no distributed RAM (the flow drops the
    RTL's distributed-RAM marks there), and is refused with its counts, not a Yosys error."""
    err = _error(capsys, ["synth", "--target", "ice40-up5k", "--rows", "1", "--cols", "1",
                          "-o", str(tmp_path)])
    assert re.fullmatch(r"wafer synth: error: A 1x1 array \(4 colors, 4096 memory words, 1024 "
                        r"accumulators\) does not fit ice40-up5k: synthesis needs luts \d+ > "
                        r"5280, ffs \d+ > 5280, brams \d+ > 30 available", err), err


@pytest.mark.regress_fpga
def test_no_tile_fits_the_up5k(capsys, tmp_path):
    """The smallest tile passes the synthesis check (its LUT count is a lower bound on iCE40)
    but nextpnr's packer needs more logic cells than the UP5K has: a clear error, no trace."""
    err = _error(capsys, ["synth", "--target", "ice40-up5k", "--colors", "1", "--mem-words",
                          "64", "--acc-words", "64", "--max-len", "16", "-o", str(tmp_path)])
    assert re.fullmatch(r"wafer synth: error: A 1x1 array \(1 color, 64 memory words, 64 "
                        r"accumulators\) does not fit ice40-up5k: nextpnr packs it into "
                        r"ICESTORM_LC \d+ > 5280 available", err), err


@pytest.mark.regress_fpga
def test_2x2_on_ecp5(capsys, tmp_path):
    r = _synth_json(capsys, ["--rows", "2", "--cols", "2", *SMALL, "-o", str(tmp_path)])
    assert r["brams"] == 8 and r["luts"] > 4 * 8000


@pytest.mark.regress_fpga
def test_ulx3s_bitstream(capsys, tmp_path):
    r = _synth_json(capsys, ["--board", "ulx3s-85f", "--rows", "1", "--cols", "1",
                             "-o", str(tmp_path)])
    assert r["bitstream"].endswith(".bit") and r["timing_met"] and r["clock_mhz"] == 25


@pytest.mark.regress_fpga
def test_icebreaker_does_not_fit(capsys, tmp_path):
    err = _error(capsys, ["synth", "--board", "icebreaker", "-o", str(tmp_path)])
    assert re.fullmatch(r"wafer synth: error: A 1x1 array \(1 color, 64 memory words, 64 "
                        r"accumulators\) with the host link does not fit icebreaker: nextpnr "
                        r"packs it into ICESTORM_LC \d+ > 5280 available", err), err
