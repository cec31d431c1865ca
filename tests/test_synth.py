"""`fabric.synth`: Yosys synth_ecp5 runs and its cell counts are parsed correctly (20 to 45 s,
most of it the default PE)."""

import pytest

from fabric.synth import synth_ecp5
from fabric.verilog import pe_top, write_verilog

COUNTER = """module cnt(input clk, input rst, output reg [7:0] q);
  always @(posedge clk) if (rst) q <= 0; else q <= q + 1;
endmodule
"""


def test_counter_maps_to_eight_flip_flops(tmp_path):
    (tmp_path / "cnt.v").write_text(COUNTER)
    r = synth_ecp5(tmp_path / "cnt.v", "cnt")
    assert r["TRELLIS_FF"] == r["FF"] == 8
    assert r["DP16KD"] == r["MULT18X18D"] == 0
    assert r["cells"] == sum(r["by_type"].values()) >= 8
    assert (tmp_path / "cnt_stat.json").exists() and (tmp_path / "cnt_synth.log").exists()


def test_missing_top_raises_with_the_yosys_error(tmp_path):
    (tmp_path / "cnt.v").write_text(COUNTER)
    with pytest.raises(RuntimeError, match="Module `nope' not found"):
        synth_ecp5(tmp_path / "cnt.v", "nope")


def test_default_pe_memories_map_to_block_ram(tmp_path):
    """mem (4096 x 16 bits) needs 4 DP16KD at 1024 x 18, acc (1024 x 32) 2 at 512 x 36; the
    fp16 significand product (11 x 11 bits) needs at least one multiplier."""
    verilog = write_verilog(*pe_top(), tmp_path)
    r = synth_ecp5(verilog, "pe")
    assert r["DP16KD"] == 6
    assert r["MULT18X18D"] >= 1
    # The eight 32-bit counters alone are 256 flip-flops.
    assert r["FF"] >= 8 * 32 and r["LUT4"] > 0
    assert "$scopeinfo" not in r["by_type"]
