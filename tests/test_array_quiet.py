"""The array testbench's own checks on a 1x1 ``wafer_array`` (Verilator): configuration time
measured on the RTL equals the model's prediction, and a result the RTL sends after the model
went quiet fails the run (a mutant model that holds one result back)."""

from wafer_engine.sw.flows.array_verilog import TOP_NAME, write_array_verilog
from wafer_engine.sw.sim.runner import run_cocotb, sim_dir
from wafer_engine.rtl.params import ArrayParams

#: A small PE for a short build: three colors, small memories.
PE = dict(colors=3, mem_words=256, acc_words=256, max_len=64)


def test_array_testbench_checks():
    config = "1x1"
    folder = sim_dir("array_quiet", config)
    verilog, _ = write_array_verilog(ArrayParams.build(rows=1, cols=1, **PE), out_dir=folder)
    run_cocotb(unit="array_quiet", config_name=config, verilog_path=verilog,
               toplevel=TOP_NAME,
               test_module=["wafer_engine.tb.array.test_chain",
                            "wafer_engine.tb.array.test_quiet"],
               params={"rows": 1, "cols": 1, "pe": PE})
