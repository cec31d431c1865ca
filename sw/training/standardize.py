"""Input standardisation: every data source's features are shifted and scaled by statistics of
its training split, and the statistics travel with the checkpoint (and an export) so inference
applies the same transform."""

from pathlib import Path

import numpy as np

__all__ = ["Standardizer", "load_standardizer", "STATS_ARRAYS"]

#: Names of the statistics' arrays in a checkpoint or a statistics ``.npz``.
STATS_ARRAYS = ("input_mean", "input_scale")


class Standardizer:
    """``x -> (x - mean) / scale`` per feature, in float32. ``scale`` is the training split's
    standard deviation, or 1 for a constant feature (it stays at 0 after the shift)."""

    def __init__(self, mean, scale):
        self.mean = np.asarray(mean, dtype=np.float32)
        self.scale = np.asarray(scale, dtype=np.float32)
        if self.mean.ndim != 1 or self.scale.shape != self.mean.shape:
            raise ValueError(f"Input statistics must be two vectors of one length, not shapes "
                             f"{self.mean.shape} and {self.scale.shape}")
        if not (np.all(np.isfinite(self.mean)) and np.all(np.isfinite(self.scale))
                and np.all(self.scale > 0)):
            raise ValueError("Input statistics must be finite with positive scales")

    @classmethod
    def fit(cls, x):
        """Statistics of samples ``x`` (S x features), computed in float64."""
        x = np.asarray(x, dtype=np.float64)
        std = x.std(axis=0)
        return cls(x.mean(axis=0), np.where(std > 0, std, 1.0))

    @property
    def features(self):
        return self.mean.size

    def apply(self, x):
        """Standardised float32 samples (S x features)."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.features:
            raise ValueError(f"Samples must have shape (S, {self.features}), not {x.shape}")
        return (x - self.mean) / self.scale

    def arrays(self):
        """``{name: array}`` as saved (:data:`STATS_ARRAYS`)."""
        return dict(zip(STATS_ARRAYS, (self.mean, self.scale)))

    def save(self, path):
        """Write the statistics to the ``.npz`` file ``path``."""
        np.savez(path, **self.arrays())


def load_standardizer(path):
    """The :class:`Standardizer` saved in a checkpoint folder (its newest checkpoint, checksum
    verified) or a statistics ``.npz`` file (written by ``wafer train --export``). Arrays are
    read without unpickling. ``ValueError`` if ``path`` holds none."""
    path = Path(path)
    if path.is_dir():
        from wafer_engine.sw.training.checkpoint import read_checkpoint
        _, arrays = read_checkpoint(path)
    else:
        try:
            with np.load(path, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
        except (OSError, ValueError) as exc:
            raise ValueError(f"Cannot read input statistics from {path}: {exc}") from None
    missing = [name for name in STATS_ARRAYS if name not in arrays]
    if missing:
        raise ValueError(f"{path} holds no input statistics (arrays {', '.join(missing)} "
                         f"missing)")
    return Standardizer(*(arrays[name] for name in STATS_ARRAYS))
