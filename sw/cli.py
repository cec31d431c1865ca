"""The ``wafer`` command line."""

import argparse
import sys

from fabric.verilog import TOPS, write_verilog

__all__ = ["main"]


def _verilog(args):
    if args.top not in TOPS:
        raise ValueError(f"Top must be one of {', '.join(sorted(TOPS))}, not {args.top!r}")
    component, name = TOPS[args.top](colors=args.colors, depth=args.depth)
    path = write_verilog(component, name, args.output)
    print(path)


def _parser():
    parser = argparse.ArgumentParser(prog="wafer", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    verilog = commands.add_parser("verilog", help="write a component's Verilog and print its path")
    verilog.add_argument("--top", default="router",
                         help=f"component to generate: {', '.join(sorted(TOPS))} (default router)")
    verilog.add_argument("--colors", type=int, default=4, help="number of colors, 1..24")
    verilog.add_argument("--depth", type=int, default=2,
                         help="router buffer depth per (input, color), 1..64")
    verilog.add_argument("-o", "--output", default="build/verilog", help="output folder")
    verilog.set_defaults(run=_verilog)
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        args.run(args)
    except ValueError as exc:
        print(f"wafer {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
