"""PE regressions: cocotb on Verilator, checked cycle by cycle against the golden model.

The default run covers two parameter sets (about 36,000 and 24,000 simulated cycles); the
``regress`` run repeats them with eight times larger random workloads.
"""

import pytest

from wafer_engine.sw.flows.verilog import write_verilog
from wafer_engine.rtl.pe import Pe
from wafer_engine.rtl.params import PeParams
from wafer_engine.sw.sim.runner import run_cocotb

#: Parameter sets: the default PE, and a small one with every color, shallow FIFOs (a
#: one-entry output FIFO: every result waits for the previous one's credit) and tiny memories.
SETS = {
    "default": dict(colors=4, mem_words=4096, acc_words=1024, max_len=64, in_depth=4,
                    out_depth=16),
    "small": dict(colors=24, mem_words=512, acc_words=128, max_len=32, in_depth=2,
                  out_depth=1),
}


def run_pe(config, params, testcase=None, model_params=None, optimize=False, **extra):
    """Build the PE with ``params`` and run wafer_engine.tb.pe.test_pe on it; the testbench's model gets
    ``model_params`` (default: the same)."""
    return run_cocotb(unit="pe", config_name=config, toplevel="pe",
                      verilog_path=lambda folder: write_verilog(Pe(PeParams(**params)), "pe",
                                                                folder),
                      test_module="wafer_engine.tb.pe.test_pe", testcase=testcase,
                      optimize=optimize, params={**(model_params or params), **extra})


@pytest.mark.parametrize("config", list(SETS))
def test_pe(config):
    run_pe(config, SETS[config], seed=len(config))


def test_lockstep_check_catches_a_mismatch():
    """The testbench is not vacuous: the default PE (a 16-deep output FIFO) modelled with a
    1-deep one diverges (results leave earlier than the model says) and the run fails. It
    shares test_pe[default]'s build."""
    params = SETS["default"]
    with pytest.raises(AssertionError, match=r"cycle \d+: (output|idle|input ready) .* != model"):
        run_pe("default", params, testcase="random_sparse",
               model_params={**params, "out_depth": 1}, seed=3)


@pytest.mark.regress
@pytest.mark.parametrize("config", list(SETS))
def test_pe_regress(config):
    run_pe(f"{config}_regress", SETS[config], optimize=True, seed=100 + len(config), scale=8)


def test_default_set_is_the_default_pe():
    assert PeParams(**SETS["default"]) == PeParams()
