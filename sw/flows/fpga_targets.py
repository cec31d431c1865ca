"""FPGA devices the engine is built for: their nextpnr flags and their capacity."""

from typing import NamedTuple

__all__ = ["FpgaTarget", "TARGETS", "target"]


class FpgaTarget(NamedTuple):
    """One device: ``family`` (``"ecp5"`` or ``"ice40"``), the nextpnr device flags and the
    capacity in the units ``wafer synth`` reports (``luts``: logic cells, LUT4 + carry;
    ``ffs``: flip-flops; ``brams``: block RAMs, DP16KD 18 Kbit on ECP5, SB_RAM40_4K 4 Kbit on
    iCE40; ``dsps``: MULT18X18D on ECP5, SB_MAC16 on iCE40)."""
    name: str
    family: str
    device_args: tuple
    capacity: dict


#: The targets ``wafer synth --target`` knows. Package and speed grade are those of the boards
#: (ULX3S: CABGA381, speed 6; iCEBreaker: SG48).
TARGETS = {
    "ecp5-85k": FpgaTarget("ecp5-85k", "ecp5",
                           ("--85k", "--package", "CABGA381", "--speed", "6"),
                           {"luts": 83640, "ffs": 83640, "brams": 208, "dsps": 156}),
    "ecp5-25k": FpgaTarget("ecp5-25k", "ecp5",
                           ("--25k", "--package", "CABGA381", "--speed", "6"),
                           {"luts": 24288, "ffs": 24288, "brams": 56, "dsps": 28}),
    "ice40-up5k": FpgaTarget("ice40-up5k", "ice40", ("--up5k", "--package", "sg48"),
                             {"luts": 5280, "ffs": 5280, "brams": 30, "dsps": 8}),
}


def target(name):
    """The :class:`FpgaTarget` called ``name``; raises ``ValueError`` listing the valid ones."""
    if name not in TARGETS:
        raise ValueError(f"Target must be one of {', '.join(TARGETS)}, not {name!r}")
    return TARGETS[name]
