"""wafer: Verilog for the engine's components and arrays, and sparse linear algebra on them."""

import argparse
import importlib
import sys
from dataclasses import fields

from wafer_engine.rtl.params import ArrayParams, PeParams
from wafer_engine.sw.cli.array_flags import add_array_flags, array_params, flag, given_array_flags
from wafer_engine.sw.cli.files import check_output_folder
from wafer_engine.sw.flows.verilog import TOPS, write_verilog

from wafer_engine.sw.hostlink.client import FpgaLinkError

__all__ = ["main", "build_parser"]

#: The parameters each ``--top`` is built from; any other array/PE flag is refused for it.
_TOP_USES = {
    "router": {"colors", "depth"},
    "pe": {f.name for f in fields(PeParams)},
    "tile": {f.name for f in fields(ArrayParams) if f.name not in ("rows", "cols", "pe")}
            | {f.name for f in fields(PeParams)},
}
_VERILOG_TOPS = (*TOPS, "array")


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, ``wafer <command>: error: <message>``,
    with exit status 2 (argparse prints its whole usage first)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}\n")


def _verilog(args):
    given = given_array_flags(args)
    top = args.top
    if top is None:
        top = "array" if args.rows is not None or args.cols is not None else "router"
    if top not in _VERILOG_TOPS:
        raise ValueError(f"--top must be one of {', '.join(_VERILOG_TOPS)}, not {top!r}")
    params = array_params(args, ArrayParams())
    if args.output is None:
        from wafer_engine.sw.paths import BUILD_DIR
        args.output = BUILD_DIR / "verilog"
    else:
        check_output_folder(args.output, "--output")
    if top == "array":
        from wafer_engine.sw.flows.array_verilog import write_array_verilog
        path, _ = write_array_verilog(params, args.output)
        print(path)
        return
    unused = [f for f in given if f[2:].replace("-", "_") not in _TOP_USES[top]]
    if unused:
        uses = ", ".join(flag(n) for n in sorted(_TOP_USES[top]))
        raise ValueError(f"{unused[0]} does not apply to --top {top} (it takes {uses})")
    component, name = TOPS[top](params)
    path = write_verilog(component, name, args.output)
    print(path)


def _gemv(args):
    from wafer_engine.sw.cli.linalg import gemv
    gemv(args)


def _gemm(args):
    from wafer_engine.sw.cli.linalg import gemm
    gemm(args)


#: The linear-algebra commands: name, help, operand flags, result name, runner.
_LINALG = [
    ("gemv", "y = A x with A resident, non-zeros of x streamed",
     [("--matrix", "A, an M x N .npy array"), ("--vector", "x, an N-vector .npy array")],
     "y", _gemv),
    ("gemm", "Y = W X with X resident, non-zeros of W streamed",
     [("--weights", "W, an M x N .npy array"), ("--inputs", "X, an N x B .npy array")],
     "Y", _gemm),
]


#: Commands that live in their own modules; each module has ``add_command(subparsers)``.
_COMMAND_MODULES = ("wafer_engine.sw.cli.train", "wafer_engine.sw.cli.synth",
                    "wafer_engine.sw.cli.infer")


def _array_options(parser):
    add_array_flags(parser, ArrayParams(), note="with --board the board's")
    parser.add_argument("--backend", default="golden", choices=("golden", "verilator", "fpga"),
                        help="golden model (default), the RTL on Verilator, or a board over "
                             "its serial port (--port)")
    parser.add_argument("--port", help="fpga backend: the board's serial port (e.g. "
                                       "/dev/ttyUSB0, or any pyserial URL)")
    parser.add_argument("--baud", type=int,
                        help="fpga backend: the board's UART rate (default 115200, what "
                             "'wafer synth --board' builds)")
    parser.add_argument("--board", help="fpga backend: the board whose 'wafer synth --board' "
                                        "bitstream runs; sets the array and PE to its build")
    parser.add_argument("--relu", action="store_true", help="apply ReLU to the result")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def build_parser():
    parser = OneLineParser(prog="wafer", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    verilog = commands.add_parser("verilog", help="write a component's Verilog and print its path")
    verilog.add_argument("--top", help=f"what to generate: {', '.join(_VERILOG_TOPS)} "
                                       "(default array when --rows or --cols is given, else "
                                       "router); array writes wafer_array.v (top wafer_array)")
    add_array_flags(verilog, ArrayParams())
    verilog.add_argument("-o", "--output", help="output folder, made if its parent folder "
                                                "exists (default $WAFER_BUILD_DIR/verilog)")
    verilog.set_defaults(run=_verilog)

    for name, text, operands, result, run in _LINALG:
        command = commands.add_parser(name, help=text)
        for flag, what in operands:
            command.add_argument(flag, required=True, help=what)
        command.add_argument("--out", required=True,
                             help=f"where to write {result} (float32 .npy)")
        _array_options(command)
        command.set_defaults(run=run)
    for module in _COMMAND_MODULES:
        importlib.import_module(module).add_command(commands)
    return parser


def main(argv=None):
    """Run ``wafer`` with ``argv``; returns the exit status: 0, or 2 after one line
    ``wafer <command>: error: <message>`` on stderr for bad input (nothing written then)."""
    try:
        args, extra = build_parser().parse_known_args(argv)
    except SystemExit as exc:
        return exc.code or 0
    if extra:
        # The top-level parser would name itself ("wafer: error: ..."); name the command.
        return _fail(args, f"unrecognized arguments: {' '.join(extra)}")
    try:
        args.run(args)
    except (ValueError, FpgaLinkError) as exc:
        return _fail(args, exc)
    except OSError as exc:
        # The file system refused a write (disk full, permissions): name the file.
        where = f"{exc.filename}: " if exc.filename else ""
        return _fail(args, f"{where}{exc.strerror or exc}")
    except KeyboardInterrupt:
        # Child tools were stopped where they ran (sw/progress.run_tool, subprocess.run) and
        # outputs are renamed into place only when complete, so nothing half-written remains.
        print(f"wafer {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED
    return 0


#: Exit status after Ctrl-C: 128 + SIGINT, as shells report it.
INTERRUPTED = 130


def _fail(args, message):
    print(f"wafer {args.command}: error: {' '.join(str(message).split())}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
