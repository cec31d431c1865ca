"""Configuration records: what the program compiler emits for the configuration chain
(:mod:`wafer_engine.rtl.config_chain`), and their encoding as 32-bit chain words."""

from typing import NamedTuple

from wafer_engine.rtl.config_chain import ITEM_WORDS, ConfigDest

__all__ = ["ConfigRecord", "encode", "WORD_MASK"]

WORD_MASK = 0xFFFF_FFFF


class ConfigRecord(NamedTuple):
    """Items for consecutive addresses of one destination in the tile ``hops`` tiles down."""
    hops: int
    dest: ConfigDest
    addr: int
    items: tuple

    def words(self):
        """The record as chain words: header, target, then each item low word first."""
        dest = ConfigDest(self.dest)
        for name, value, limit in (("hops", self.hops, 0xFFFF), ("addr", self.addr, 0xFFFF),
                                   ("item count", len(self.items), 0xFFFF)):
            if not 0 <= value <= limit:
                raise ValueError(f"Config record {name} must be between 0 and {limit}, "
                                 f"not {value!r}")
        out = [self.hops | dest.value << 16, self.addr | len(self.items) << 16]
        for item in self.items:
            for w in range(ITEM_WORDS[dest]):
                out.append((item >> (32 * w)) & WORD_MASK)
        return out


def encode(records):
    """The chain word stream for ``records``, in order."""
    return [w for r in records for w in r.words()]
