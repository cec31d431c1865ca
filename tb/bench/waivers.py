"""The Verilator lint waivers as a docs section: ``python -m wafer_engine.tb.bench.waivers
--write docs/architecture.md``.

The list is :data:`wafer_engine.sw.sim.verilator.WAIVERS`, which both ``make lint`` and every
Verilator build pass as ``-Wno-<name>``; tests/test_docs.py checks the section against it.
"""

import argparse

from wafer_engine.sw.sim.verilator import WAIVERS
from wafer_engine.tb.bench.results import write_section

__all__ = ["markdown"]

COMMAND = ".venv/bin/python -m wafer_engine.tb.bench.waivers --write docs/architecture.md"
BEGIN, END = "<!-- lint-waivers:begin -->", "<!-- lint-waivers:end -->"


def markdown():
    """The section, markers included."""
    lines = [BEGIN, "## Verilator lint waivers", "",
             "`make lint` runs `verilator --lint-only -Wall` on the generated router, and every "
             "Verilator build of the benches passes the same waivers (`-Wno-<warning>`). They "
             "are the `WAIVERS` of `sw/sim/verilator.py`; this list is written from it "
             f"(`{COMMAND}`) and tests/test_docs.py checks that the two agree.", "",
             "| warning | why it is waived |", "|---|---|"]
    lines += [f"| `{name}` | {reason} |" for name, reason in WAIVERS.items()]
    lines += ["", "Any other warning fails `make lint`.", END]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m wafer_engine.tb.bench.waivers",
                                     description=__doc__)
    parser.add_argument("--write", help="Markdown file whose lint-waivers section is replaced")
    args = parser.parse_args(argv)
    text = markdown()
    print(text)
    if args.write:
        write_section(args.write, text, BEGIN, END)


if __name__ == "__main__":
    main()
