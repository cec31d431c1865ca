"""The configuration chain: model properties, and the RTL on Verilator in lockstep with it."""

import pytest

from wafer_engine.fabric.model.config_model import run_chain
from wafer_engine.fabric.program.config_records import ConfigRecord, encode
from wafer_engine.sw.flows.verilog import write_verilog
from wafer_engine.rtl.config_chain import ConfigDest
from wafer_engine.rtl.harness.chain_row import ConfigChain
from wafer_engine.sw.sim.runner import run_cocotb, sim_dir


@pytest.mark.parametrize("length", [1, 4])
def test_config_chain_rtl(length):
    config = f"n{length}"
    verilog = write_verilog(ConfigChain(length), "config_chain", sim_dir("config_chain", config))
    run_cocotb(unit="config_chain", config_name=config, verilog_path=verilog,
               toplevel="config_chain", test_module="wafer_engine.tb.config_chain.test_config_chain",
               params={"length": length, "seed": length})


def test_model_delivers_and_counts_cycles():
    records = [ConfigRecord(2, ConfigDest.ROUTE, 3, (1 << 41 | 5,)),
               ConfigRecord(0, ConfigDest.ACC, 7, (0x3F800000, 0x40000000))]
    cycles, writes = run_chain(3, encode(records))
    assert writes == [[(ConfigDest.ACC, 7, 0x3F800000), (ConfigDest.ACC, 8, 0x40000000)], [],
                      [(ConfigDest.ROUTE, 3, 1 << 41 | 5)]]
    # 8 words at one per cycle, the last forwarded record crossing two nodes.
    assert len(encode(records)) == 8 and cycles <= 8 + 3 + 1


@pytest.mark.parametrize("field,record", [
    ("hops", ConfigRecord(0x10000, ConfigDest.MEM, 0, ())),
    ("addr", ConfigRecord(0, ConfigDest.MEM, -1, ())),
])
def test_record_fields_out_of_range(field, record):
    with pytest.raises(ValueError, match=rf"^Config record {field} must be between 0 and 65535"):
        record.words()
