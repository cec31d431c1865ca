"""wafer: Verilog for the engine's components and arrays, and sparse linear algebra on them."""

import argparse
import importlib
import sys

from wafer_engine.sw.flows.verilog import TOPS, write_verilog

from wafer_engine.sw.hostlink.fpga_backend import FpgaLinkError

__all__ = ["main"]


def _verilog(args):
    if args.rows is not None or args.cols is not None:
        from wafer_engine.sw.flows.array_verilog import write_array_verilog
        path, _ = write_array_verilog(args.rows or 1, args.cols or 1, args.output,
                                      colors=args.colors, mem_words=args.mem_words)
        print(path)
        return
    if args.top not in TOPS:
        raise ValueError(f"Top must be one of {', '.join(sorted(TOPS))}, not {args.top!r}")
    extra = {"mem_words": args.mem_words} if args.top == "pe" else {}
    if args.depth is not None:
        extra["depth"] = args.depth
    component, name = TOPS[args.top](colors=args.colors, **extra)
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
_COMMAND_MODULES = ("wafer_engine.sw.cli.train", "wafer_engine.sw.cli.synth")


def _array_options(parser):
    # Array and PE flags default to None so that --board can tell which were given.
    parser.add_argument("--rows", type=int, help="array rows (default 4)")
    parser.add_argument("--cols", type=int, help="array columns (default 4)")
    parser.add_argument("--colors", type=int, help="colors per router and PE (default 4)")
    parser.add_argument("--mem-words", type=int,
                        help="PE memory in 16-bit words (default 4096)")
    parser.add_argument("--acc-words", type=int,
                        help="PE accumulators, 32-bit words (default 1024)")
    parser.add_argument("--max-len", type=int,
                        help="PE's longest vector, drains and chain reductions included "
                             "(default 64)")
    parser.add_argument("--backend", default="golden", choices=("golden", "verilator", "fpga"),
                        help="golden model (default), the RTL on Verilator, or a board over "
                             "its serial port (--port)")
    parser.add_argument("--port", help="fpga backend: the board's serial port (e.g. "
                                       "/dev/ttyUSB0, or any pyserial URL)")
    parser.add_argument("--baud", type=int, default=115200,
                        help="fpga backend: the board's UART rate (default 115200, what "
                             "'wafer synth --board' builds)")
    parser.add_argument("--board", help="fpga backend: the board whose 'wafer synth --board' "
                                        "bitstream runs; sets the array and PE to its build")
    parser.add_argument("--relu", action="store_true", help="apply ReLU to the result")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _parser():
    parser = argparse.ArgumentParser(prog="wafer", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    verilog = commands.add_parser("verilog", help="write a component's Verilog and print its path")
    verilog.add_argument("--top", default="router",
                         help=f"component to generate: {', '.join(sorted(TOPS))} (default router)")
    verilog.add_argument("--colors", type=int, default=4, help="number of colors, 1..24")
    verilog.add_argument("--depth", type=int,
                         help="router buffer depth per (input, color), default 2; for the PE, "
                              "its input and output FIFO depth, default 4")
    verilog.add_argument("--rows", type=int, help="generate an R x C array (top wafer_array)")
    verilog.add_argument("--cols", type=int, help="columns of the array")
    verilog.add_argument("--mem-words", type=int, default=4096,
                         help="PE memory in 16-bit words (default 4096)")
    verilog.add_argument("-o", "--output", default="build/verilog", help="output folder")
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
    args = _parser().parse_args(argv)
    try:
        args.run(args)
    except (ValueError, FpgaLinkError) as exc:
        print(f"wafer {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
