"""Parameters of the processing element and their validation."""

from typing import NamedTuple

from wafer_engine.rtl.checks import check_int
from wafer_engine.rtl.wavelet import check_colors

__all__ = ["PeParams", "check_pe_params", "MAX_WORDS", "MAX_LEN", "MAX_FIFO_DEPTH"]

#: Largest memory or accumulator array (words): addresses are 16 bits everywhere.
MAX_WORDS = 1 << 16
#: Largest vector length: the task table's ``len`` field is 16 bits.
MAX_LEN = (1 << 16) - 1
#: Largest input or output FIFO depth (wavelets); deeper FIFOs only cost area.
MAX_FIFO_DEPTH = 64


class PeParams(NamedTuple):
    """Validated PE parameters (see :class:`wafer_engine.rtl.pe.Pe` for their meaning)."""
    colors: int
    mem_words: int
    acc_words: int
    max_len: int
    in_depth: int
    out_depth: int


def check_pe_params(colors=4, mem_words=4096, acc_words=1024, max_len=64, in_depth=4,
                    out_depth=4):
    """Validate PE parameters; returns a :class:`PeParams`. Raises ``ValueError`` naming the
    bad value."""
    return PeParams(
        colors=check_colors(colors),
        mem_words=check_int(mem_words, 1, MAX_WORDS, "Memory size (words)"),
        acc_words=check_int(acc_words, 1, MAX_WORDS, "Accumulator count"),
        max_len=check_int(max_len, 1, MAX_LEN, "Maximum vector length"),
        in_depth=check_int(in_depth, 1, MAX_FIFO_DEPTH, "Input FIFO depth"),
        out_depth=check_int(out_depth, 1, MAX_FIFO_DEPTH, "Output FIFO depth"),
    )
