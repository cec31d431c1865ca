"""Access to a component's link ports (``name__index__member`` in Amaranth's Verilog)."""

__all__ = ["LinkPort"]


class LinkPort:
    """Handles of one link port of the DUT: ``valid``, ``wavelet`` (38 bits) and ``ready``."""

    def __init__(self, dut, name, index):
        prefix = f"{name}__{index}__"
        self.valid = getattr(dut, prefix + "valid")
        self.wavelet = getattr(dut, prefix + "wavelet")
        self.ready = getattr(dut, prefix + "ready")
