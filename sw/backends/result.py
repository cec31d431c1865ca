"""What a backend run produced: one record for every backend, measured figures named apart from
predicted ones."""

from dataclasses import dataclass, field, fields

__all__ = ["RunResult"]


@dataclass
class RunResult:
    """What a run produced.

    ``outputs``: ``{(edge, position): [(cycle, Wavelet)]}`` leaving the array; ``cycles``:
    fabric cycles from the first wavelet entering the array to the last one leaving it, or to
    the end of the run if nothing left (phases back to back, each starting when the previous
    went quiet); 0 if nothing entered;
    ``counters``: ``{tile: {counter: value}}`` of the PEs; ``config_cycles``: cycles to load
    the program through the configuration chain, from the first word offered to the last
    tile's last write; ``wavelets_in``: wavelets that entered the array at its edges (the
    workload's input size).

    Every figure is the backend's own measurement (the golden backend's are the model's,
    that backend being the model) except those named in ``predicted``: field names whose
    values the backend could not measure and took from the model's prediction.
    """
    outputs: dict
    cycles: int
    counters: dict
    config_cycles: int
    wavelets_in: int
    predicted: frozenset = field(default=frozenset())

    def __post_init__(self):
        names = {f.name for f in fields(self)} - {"predicted"}
        if isinstance(self.predicted, str):
            raise ValueError(f"Predicted figures must be a set of field names, not "
                             f"{self.predicted!r}")
        self.predicted = frozenset(self.predicted)
        for name in sorted(self.predicted):
            if name not in names:
                raise ValueError(f"Predicted figures must be among {', '.join(sorted(names))}, "
                                 f"not {name!r}")

    def total(self, counter):
        """A PE counter summed over the array."""
        return sum(c[counter] for c in self.counters.values())
