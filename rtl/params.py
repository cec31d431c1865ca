"""The engine's parameters: one frozen, validated object per level (PE, array), defaults here only.

Like Amaranth's ``stream.Signature`` or ``data.StructLayout``: built once where the user's input
arrives (a command's flags, an API call), validated in its constructor with one message per bad
value, printed as a repr that rebuilds it, and passed down as an object to the RTL, the models
and the flows. The command-line flags of every ``wafer`` command are generated from the fields
below (their ``metadata``), so every command takes the same flags with the same meaning.
"""

from dataclasses import dataclass, field, fields, replace

from wafer_engine.rtl.checks import check_int
from wafer_engine.rtl.wavelet import MAX_COLORS, check_colors

__all__ = ["PeParams", "ArrayParams", "MAX_WORDS", "MAX_LEN", "MAX_FIFO_DEPTH", "MAX_DEPTH",
           "MAX_ROWS", "MAX_COLS", "check_depth"]

#: Largest memory or accumulator array (words): addresses are 16 bits everywhere.
MAX_WORDS = 1 << 16
#: Largest vector length: the task table's ``len`` field is 16 bits.
MAX_LEN = (1 << 16) - 1
#: Largest PE input or output FIFO depth (wavelets); deeper FIFOs only cost area.
MAX_FIFO_DEPTH = 64
#: Largest router buffer depth per (input, color) (wavelets); deeper buffers only cost area.
MAX_DEPTH = 64
#: Largest array side: room for the WSE-2's 750 x 994 grid of cores.
MAX_ROWS = MAX_COLS = 1024


def check_depth(depth):
    """Validate a router buffer depth per (input, color); returns it."""
    return check_int(depth, 1, MAX_DEPTH, "Buffer depth")


def _param(default, help, check):
    """A parameter field: its default, the flag's help text, and its check (value -> value)."""
    return field(default=default, metadata={"help": help, "check": check})


def _validate(obj):
    for f in fields(obj):
        check = f.metadata.get("check")
        if check is not None:
            check(getattr(obj, f.name))


@dataclass(frozen=True)
class PeParams:
    """Parameters of one processing element (see :class:`wafer_engine.rtl.pe.Pe`)."""
    colors: int = _param(4, f"colors per router and PE (virtual channels), 1..{MAX_COLORS}",
                         check_colors)
    mem_words: int = _param(4096, f"PE memory in 16-bit words, 1..{MAX_WORDS}",
                            lambda v: check_int(v, 1, MAX_WORDS, "Memory size (words)"))
    acc_words: int = _param(1024, f"PE accumulators in 32-bit words, 1..{MAX_WORDS}",
                            lambda v: check_int(v, 1, MAX_WORDS, "Accumulator count"))
    max_len: int = _param(64, "PE's longest vector, drains and chain reductions included, "
                              f"1..{MAX_LEN}",
                          lambda v: check_int(v, 1, MAX_LEN, "Maximum vector length"))
    in_depth: int = _param(4, f"PE input FIFO depth in wavelets, 1..{MAX_FIFO_DEPTH}",
                           lambda v: check_int(v, 1, MAX_FIFO_DEPTH, "Input FIFO depth"))
    out_depth: int = _param(16, f"PE output FIFO depth in wavelets, 1..{MAX_FIFO_DEPTH}; "
                                "results stream at one per cycle from 13 on",
                            lambda v: check_int(v, 1, MAX_FIFO_DEPTH, "Output FIFO depth"))

    def __post_init__(self):
        _validate(self)

    def replace(self, **changes):
        """A copy with ``changes`` applied (and validated)."""
        return replace(self, **changes)


@dataclass(frozen=True)
class ArrayParams:
    """Parameters of an R x C array of tiles: its shape, the routers' buffer depth, and the PE
    every tile holds."""
    rows: int = _param(4, f"array rows, 1..{MAX_ROWS}",
                       lambda v: check_int(v, 1, MAX_ROWS, "Row count"))
    cols: int = _param(4, f"array columns, 1..{MAX_COLS}",
                       lambda v: check_int(v, 1, MAX_COLS, "Column count"))
    depth: int = _param(3, f"router buffer depth per (input, color) in wavelets, arrival "
                              f"register included (3 for full rate), 1..{MAX_DEPTH}",
                        check_depth)
    pe: PeParams = PeParams()

    def __post_init__(self):
        if not isinstance(self.pe, PeParams):
            raise TypeError(f"pe must be a PeParams, not {self.pe!r}")
        _validate(self)

    @property
    def colors(self):
        """Colors of every router and PE."""
        return self.pe.colors

    @property
    def tiles(self):
        """Number of tiles, ``rows * cols``."""
        return self.rows * self.cols

    def flat(self):
        """Every parameter by its flat name (``rows``, ``cols``, ``depth``, ``colors``,
        ``mem_words``, ...), as the command-line flags and JSON reports name them."""
        own = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "pe"}
        return {**own, **{f.name: getattr(self.pe, f.name) for f in fields(self.pe)}}

    def replace(self, **changes):
        """A copy with ``changes`` applied; PE fields (``colors``, ``mem_words``, ...) may be
        given flat beside the array's own: ``params.replace(rows=2, colors=3)``."""
        return self.build(self, **changes)

    @classmethod
    def build(cls, base=None, **values):
        """An :class:`ArrayParams` from ``base`` (default: the defaults) with ``values`` applied,
        array fields (``rows``, ``cols``, ``depth``, ``pe``) and PE fields (``colors``,
        ``mem_words``, ...) given flat; ``None`` values are ignored (a flag not given). Where
        user input arrives as flat names (command-line flags, keyword arguments) this is the one
        place that turns them into the object."""
        base = cls() if base is None else base
        values = {k: v for k, v in values.items() if v is not None}
        own = {f.name for f in fields(cls)}
        pe_names = {f.name for f in fields(PeParams)}
        unknown = sorted(set(values) - own - pe_names)
        if unknown:
            raise TypeError(f"Unknown parameter {unknown[0]!r}")
        pe = values.pop("pe", base.pe)
        pe_values = {k: values.pop(k) for k in list(values) if k in pe_names}
        return replace(base, pe=replace(pe, **pe_values), **values)
