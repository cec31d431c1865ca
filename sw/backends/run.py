"""Run a workload on the golden model or on the RTL (Verilator), behind one API.

Both backends take the same :class:`wafer_engine.fabric.workloads.Workload` and return the same
:class:`RunResult`; the RTL backend runs the model in lockstep and fails on the first
difference, so a result it returns is bit-identical to the golden one by construction, and its
``cycles``, ``config_cycles`` and ``wavelets_in`` are counted on the RTL's own signals.
"""

import pickle

from wafer_engine.fabric.model.array_model import ArrayModel
from wafer_engine.fabric.model.config_model import run_chain

from wafer_engine.sw.backends.result import RunResult

__all__ = ["BACKENDS", "RunResult", "run_workload"]

BACKENDS = ("golden", "verilator", "fpga")


def _span(first_in, last_out, end):
    if first_in is None:
        return 0
    return (end if last_out is None else last_out + 1) - first_in


def _wavelets_in(work):
    return sum(len(s) for phase in work.phases for s in phase.values())


def run_golden(work):
    model = ArrayModel(work.program)
    first_in = None
    for phase in work.phases:
        model.feed(phase)
        first_in = model.run_to_quiet(first_in)
    last_out = max((c for s in model.outputs.values() for c, _ in s), default=None)
    config_cycles, _ = run_chain(len(model.tiles), work.program.config_words())
    return RunResult(model.outputs, _span(first_in, last_out, model.cycle), model.counters(),
                     config_cycles, _wavelets_in(work))


def run_verilator(work, build_dir=None):
    from wafer_engine.sw.flows.array_verilog import TOP_NAME, write_array_verilog
    from wafer_engine.sw.sim.runner import run_cocotb, sim_dir

    program = work.program
    config = "_".join(f"{k}{v}" for k, v in program.params.flat().items())
    folder = build_dir or sim_dir("array_run", config)
    verilog, _ = write_array_verilog(program.params, folder)
    work_path, result_path = folder / "workload.pickle", folder / "result.pickle"
    with open(work_path, "wb") as f:
        pickle.dump(work, f)
    result_path.unlink(missing_ok=True)
    run_cocotb(unit="array_run", config_name=config, verilog_path=verilog, toplevel=TOP_NAME,
               test_module="wafer_engine.sw.sim.array_run",
               params={"workload": str(work_path), "result": str(result_path)})
    with open(result_path, "rb") as f:
        r = pickle.load(f)
    return RunResult(r["outputs"], _span(r["first_in"], r["last_out"], r["end"]),
                     r["counters"], r["config_cycles"], r["wavelets_in"])


def run_workload(work, backend="golden", link=None):
    """Run ``work`` on ``backend``: ``"golden"``, ``"verilator"``, or ``"fpga"`` (a board
    behind ``link``, a byte transport with ``write``/``read`` such as a serial port; see
    :mod:`wafer_engine.sw.backends.fpga`)."""
    if backend == "golden":
        return run_golden(work)
    if backend == "verilator":
        return run_verilator(work)
    if backend == "fpga":
        if link is None:
            raise ValueError("The fpga backend needs a link to the board (a byte transport "
                             "with write(data) and read(n), e.g. a serial port), not None")
        from wafer_engine.sw.backends.fpga import run_fpga
        return run_fpga(work, link)
    raise ValueError(f"Backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
