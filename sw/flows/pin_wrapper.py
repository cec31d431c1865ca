"""The iCE40 pin wrapper as a Verilog file: :class:`wafer_engine.rtl.board.pin_wrapper.PinWrapper`
around a module the flow wrote, converted by Amaranth."""

from pathlib import Path

from wafer_engine.rtl.board.pin_wrapper import PinWrapper

from wafer_engine.sw.flows.verilog import write_verilog

__all__ = ["PIN_WRAPPER_NAME", "write_pin_wrapper"]

#: Module name of the wrapper.
PIN_WRAPPER_NAME = "wafer_pins"


def write_pin_wrapper(inner, ports, out_dir):
    """Write ``out_dir/wafer_pins.v``: the module :data:`PIN_WRAPPER_NAME` around module
    ``inner`` with ``ports`` (``[(direction, name, width)]``, e.g.
    :func:`wafer_engine.sw.flows.array_verilog.array_ports`). Returns its path."""
    return write_verilog(PinWrapper(inner, ports), PIN_WRAPPER_NAME, Path(out_dir))
