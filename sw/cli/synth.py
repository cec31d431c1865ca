"""``wafer synth``: an array through Yosys and nextpnr on an FPGA, or a board's bitstream."""

import json
import math

from wafer_engine.rtl.params import ArrayParams
from wafer_engine.sw.cli.array_flags import add_array_flags, array_params

__all__ = ["add_command", "run", "check_args", "SYNTH_ARRAY"]

#: What ``wafer synth --target`` builds unless told otherwise: one tile of the default array
#: (a 4x4 of the default PE does not fit any supported device).
SYNTH_ARRAY = ArrayParams(rows=1, cols=1)

_UNITS = [("luts", "logic cells (LUT4 + carry)"), ("ffs", "flip-flops"), ("dsps", "DSPs"),
          ("brams", "block RAMs")]


def add_command(subparsers):
    """Add the ``synth`` subcommand to ``subparsers``."""
    from wafer_engine.sw.flows.board_build import BOARDS
    from wafer_engine.sw.flows.fpga_targets import TARGETS

    p = subparsers.add_parser(
        "synth", help="synthesise and place an array on an FPGA, or build a board's bitstream",
        description="Synthesis (Yosys) and place-and-route (nextpnr) with the YoWASP tools. "
                    "--target places the bare array (out of context on ECP5, through a "
                    "pin-limited wrapper on iCE40) and reports its resources and Fmax; "
                    "--board builds the array with its UART host link into a bitstream.")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--target", help=f"device: {', '.join(TARGETS)} (default ecp5-85k)")
    where.add_argument("--board", help=f"board: {', '.join(BOARDS)}")
    add_array_flags(p, SYNTH_ARRAY, note="with --board the board's")
    p.add_argument("--freq", type=float,
                   help="timing goal in MHz (default 100 on ECP5, 50 on iCE40; boards: "
                        "their oscillator)")
    p.add_argument("--baud", type=int,
                   help="--board: the host link's UART rate in bits/s (default 115200)")
    p.add_argument("--seed", type=int,
                   help="--board: nextpnr's placement seed (default 2, see docs/fpga.md)")
    p.add_argument("-o", "--output", help="build folder (default build/fpga/<design>)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object on stdout (progress stays on stderr)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress lines (stage starts and ends, the tools' own progress)")
    p.add_argument("--log", metavar="FILE",
                   help="append the full logs of yosys and nextpnr to FILE")
    p.set_defaults(run=run)


def _given(value, default):
    return default if value is None else value


def _named(flag, value, check):
    """``check(value)``, its ``ValueError`` prefixed with the flag and the value."""
    try:
        return check(value)
    except ValueError as exc:
        raise ValueError(f"{flag} {value}: {exc}") from None


def _check_freq(freq):
    if freq is not None and not (math.isfinite(freq) and freq > 0):
        raise ValueError(f"--freq {freq}: Timing goal must be a positive number of MHz")


def check_args(args):
    """Validate every flag of ``wafer synth`` before any file is written or tool started;
    returns ``("board", spec, params)`` or ``("target", target, params)``. Raises
    ``ValueError`` naming the flag and its value."""
    from wafer_engine.rtl.checks import check_int
    from wafer_engine.sw.cli.files import check_output, check_output_folder

    _check_freq(args.freq)
    if args.output is not None:
        check_output_folder(args.output, "--output")
    if args.log is not None:
        check_output(args.log, "--log", suffix=None)
    if args.board is not None:
        from wafer_engine.sw.flows.board_build import board

        spec = _named("--board", args.board, board)
        if args.baud is not None:
            _named("--baud", args.baud, lambda v: check_int(v, 300, 12_000_000, "Baud rate"))
        if args.seed is not None:
            _named("--seed", args.seed, lambda v: check_int(v, 1, 2**31 - 1,
                                                            "Placement seed"))
        return "board", spec, array_params(args, spec.params)
    from wafer_engine.sw.flows.fpga_targets import target

    if args.baud is not None:
        raise ValueError("--baud is for --board builds (a bare array has no UART)")
    if args.seed is not None:
        raise ValueError("--seed is for --board builds")
    tgt = _named("--target", args.target or "ecp5-85k", target)
    return "target", tgt, array_params(args, SYNTH_ARRAY)


def run(args):
    """Run ``wafer synth`` for parsed ``args``; raises ``ValueError`` for bad input."""
    from wafer_engine.sw.progress import Progress

    kind, what, params = check_args(args)
    progress = Progress(quiet=args.quiet, log=args.log)
    if kind == "board":
        result = _build_board(what, params, args, progress)
    else:
        from wafer_engine.sw.flows.fpga_build import build_array

        result = build_array(params, what.name, args.output, freq_mhz=args.freq,
                             progress=progress)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        _print(result)


def _build_board(spec, params, args, progress):
    from wafer_engine.sw.flows.board_build import BOARD_SEED, build_board

    return build_board(spec.name, params=params,
                       baud=_given(args.baud, 115200), seed=_given(args.seed, BOARD_SEED),
                       out_dir=args.output, progress=progress)


def _print(r):
    from wafer_engine.sw.flows.fpga_targets import TARGETS

    cap = TARGETS[r["target"]].capacity
    what = f"{r['rows']}x{r['cols']} array ({r['colors']} colors, {r['mem_words']} memory " \
           f"words, {r['acc_words']} accumulators)"
    print(f"{r.get('board', r['target'])}: {what}")
    for key, name in _UNITS:
        print(f"  {name:28} {r[key]:>7} / {cap[key]:<6} ({100 * r[key] / cap[key]:.1f} %)")
    print(f"  {'Fmax':28} {r['fmax_mhz']:>7.2f} MHz")
    print(f"  synthesis {r['seconds_synth']} s, place and route {r['seconds_pnr']} s; "
          f"files in {r['work_dir']}")
    if r.get("bitstream"):
        print(f"  bitstream {r['bitstream']}")
