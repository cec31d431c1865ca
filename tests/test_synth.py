"""`wafer_engine.sw.flows.synth`: Yosys synth_ecp5 runs and its cell counts are parsed correctly (20 to 45 s,
most of it the default PE); per-module counts keep each module's cells apart."""

import pytest

from wafer_engine.sw.flows.synth import module_table, synth_ecp5, synth_modules
from wafer_engine.sw.flows.verilog import pe_top, write_verilog

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
    """mem (4096 x 16 bits) needs 4 DP16KD at 1024 x 18, and is kept twice (GRAD reads two
    words a cycle, one per copy); acc (1024 x 32) 2 at 512 x 36; the fp16 significand product
    (11 x 11 bits) needs at least one multiplier."""
    verilog = write_verilog(*pe_top(), tmp_path)
    r = synth_ecp5(verilog, "pe")
    assert r["DP16KD"] == 2 * 4 + 2
    assert r["MULT18X18D"] >= 1
    # The eight 32-bit counters alone are 256 flip-flops.
    assert r["FF"] >= 8 * 32 and r["LUT4"] > 0
    assert "$scopeinfo" not in r["by_type"]


TWO_COUNTERS = COUNTER + """module top(input clk, input rst, output [7:0] a, output [7:0] b,
           output reg [3:0] c);
  cnt first(.clk(clk), .rst(rst), .q(a));
  cnt second(.clk(clk), .rst(rst), .q(b));
  always @(posedge clk) c <= a[3:0] ^ b[3:0];
endmodule
"""


@pytest.mark.parametrize("family,ff", [("ecp5", "TRELLIS_FF"), ("ice40", "SB_DFF")])
def test_per_module_counts_keep_each_module_apart(tmp_path, family, ff):
    (tmp_path / "top.v").write_text(TWO_COUNTERS)
    modules = synth_modules(tmp_path / "top.v", "top", family=family)
    assert set(modules) == {"top", "cnt"}

    def ffs(cells):
        return sum(n for t, n in cells.items() if t.startswith(ff))

    assert ffs(modules["cnt"]["own"]) == ffs(modules["cnt"]["total"]) == 8
    # The top's own flip-flops are c's 4; with its two counters, 20.
    assert ffs(modules["top"]["own"]) == 4 and ffs(modules["top"]["total"]) == 20
    assert "cnt" not in modules["top"]["own"]
    table = module_table(modules, family).splitlines()
    assert table[0].startswith("| module | lut4 own | ff own |") and len(table) == 4
    assert table[3].split(" | ")[:3] == ["| top", str(modules["top"]["own"].get(
        "LUT4" if family == "ecp5" else "SB_LUT4", 0)), "4"]


def test_per_module_unknown_family(tmp_path):
    with pytest.raises(ValueError, match=r"^Family must be one of ecp5, ice40, not 'xilinx'$"):
        synth_modules(tmp_path / "top.v", "top", family="xilinx")
