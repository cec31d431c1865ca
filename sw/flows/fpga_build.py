"""One R x C array through synthesis and place-and-route on one FPGA target.

The array Verilog is :func:`wafer_engine.sw.flows.array_verilog.write_array_verilog`'s (top ``wafer_array``); on
iCE40 it is wrapped by :class:`wafer_engine.rtl.board.pin_wrapper.PinWrapper` (ports from
:func:`~wafer_engine.sw.flows.array_verilog.array_ports`) so its ports fit the package.
Synthesis keeps the ``tile`` hierarchy (one tile mapped, R x C instances), and its cell counts are checked
against the device before place-and-route, so an array that cannot fit fails in about a minute
instead of after a long placement.
"""

import time
from pathlib import Path

from wafer_engine.sw.flows.array_verilog import TOP_NAME, array_ports, write_array_verilog
from wafer_engine.sw.flows.fpga_targets import target as find_target
from wafer_engine.sw.flows.pin_wrapper import PIN_WRAPPER_NAME, write_pin_wrapper
from wafer_engine.sw.flows.pnr import CapacityError, check_fits, place_and_route, synthesize
from wafer_engine.sw.paths import BUILD_DIR
from wafer_engine.sw.progress import SILENT

__all__ = ["build_array", "array_work_dir", "describe"]

#: Where builds go unless told otherwise.
BUILD_ROOT = BUILD_DIR / "fpga"


def describe(params):
    """``"A 4x4 array (4 colors, 4096 memory words, 1024 accumulators)"``: the design of the
    array ``params``, for messages."""
    pe = params.pe
    colors = f"{pe.colors} color{'s' if pe.colors != 1 else ''}"
    return (f"A {params.rows}x{params.cols} array ({colors}, {pe.mem_words} memory words, "
            f"{pe.acc_words} accumulators)")


def array_work_dir(target, params):
    """The build folder of one array configuration."""
    pe = params.pe
    return BUILD_ROOT / (f"{target}_{params.rows}x{params.cols}_c{pe.colors}_m{pe.mem_words}"
                         f"_a{pe.acc_words}")


def build_array(params, target="ecp5-85k", work_dir=None, *, freq_mhz=None, progress=SILENT):
    """Synthesise and place the array ``params`` (an
    :class:`~wafer_engine.rtl.params.ArrayParams`) on ``target``.

    Raises ``ValueError`` for a bad size, parameter or target, and when the array cannot fit
    the target: from the synthesis counts, before place-and-route, or (iCE40, where the
    synthesis count is a lower bound) from nextpnr's packer, before placement. Returns a
    dict: ``luts`` (placed logic cells: TRELLIS_COMB on ECP5, ICESTORM_LC on iCE40), ``ffs``, ``dsps``, ``brams``,
    ``fmax_mhz`` (MHz), ``lut4`` (LUT4s after synthesis), ``estimate`` (synthesis
    ``{luts, ffs, brams, dsps}``), ``cells`` (synthesis cell types), the parameters,
    ``seconds_synth``, ``seconds_pnr``, ``seconds`` (all, wall time) and ``work_dir``.
    iCE40 numbers include the pin wrapper (one flip-flop per array input bit). ``progress``
    (:class:`~wafer_engine.sw.progress.Progress`) gets a line per stage as it starts and ends:
    elaboration, synthesis, capacity check, place and route (placement, routing, timing).
    """
    tgt = find_target(target)
    if freq_mhz is not None and (not isinstance(freq_mhz, (int, float))
                                 or isinstance(freq_mhz, bool) or not freq_mhz > 0):
        raise ValueError(f"Timing goal must be a positive number of MHz, not {freq_mhz!r}")
    start = time.monotonic()
    work = Path(work_dir) if work_dir is not None else array_work_dir(tgt.name, params)
    progress.line(f"{describe(params)} on {tgt.name}, in {work}")
    with progress.stage("elaboration (Amaranth to Verilog)"):
        verilog, _ = write_array_verilog(params, work)
        files, top = [verilog], TOP_NAME
        if tgt.family == "ice40":
            wrapper = write_pin_wrapper(TOP_NAME, array_ports(params), work)
            files, top = [verilog, wrapper], PIN_WRAPPER_NAME
    with progress.stage(f"synthesis (yosys, {tgt.family})"):
        synth = synthesize(files, top, tgt.family, work, keep=("tile",), progress=progress)
    with progress.stage("capacity check"):
        check_fits(synth["estimate"], tgt, describe(params))
    try:
        with progress.stage(f"place and route (nextpnr-{tgt.family})"):
            pnr = place_and_route(synth["netlist"], tgt, work, freq_mhz=freq_mhz,
                                  progress=progress)
    except CapacityError as exc:
        raise ValueError(f"{describe(params)} does not fit {tgt.name}: {exc}") \
            from None
    placed = pnr["placed"]
    return {
        "target": tgt.name, **params.flat(),
        "luts": placed["luts"], "ffs": placed.get("ffs", synth["estimate"]["ffs"]),
        "dsps": placed["dsps"], "brams": placed["brams"], "fmax_mhz": pnr["fmax_mhz"],
        "lut4": synth["by_type"].get("LUT4", synth["by_type"].get("SB_LUT4", 0)),
        "estimate": synth["estimate"], "cells": synth["by_type"],
        "utilisation": pnr["utilisation"],
        "seconds_synth": synth["seconds"], "seconds_pnr": pnr["seconds"],
        "seconds": round(time.monotonic() - start, 1), "work_dir": str(work),
    }
