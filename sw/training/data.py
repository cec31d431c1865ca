"""Datasets for the training job: scikit-learn's bundled digits (no download)."""

import numpy as np

__all__ = ["DATASETS", "load_dataset", "check_data"]

DATASETS = ("digits",)


def check_data(x, labels, classes, features):
    """``ValueError`` naming the problem if samples ``x`` (S x features) or integer
    ``labels`` (S,) in ``[0, classes)`` are malformed or hold NaN/inf."""
    x, labels = np.asarray(x), np.asarray(labels)
    if x.ndim != 2 or x.shape[1] != features:
        raise ValueError(f"Samples must have shape (S, {features}), not {x.shape}")
    if labels.shape != (x.shape[0],):
        raise ValueError(f"Labels must have shape ({x.shape[0]},), not {labels.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("Samples hold NaN or infinite values")
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(f"Labels must lie in [0, {classes}), not "
                         f"[{labels.min()}, {labels.max()}]")


def load_dataset(name="digits", test_fraction=0.2, seed=0):
    """``(x_train, y_train, x_test, y_test, classes)``: samples as float32 rows scaled to
    [0, 1], integer labels; a stratified split fixed by ``seed``."""
    if name not in DATASETS:
        raise ValueError(f"Dataset must be one of {', '.join(DATASETS)}, not {name!r}")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=test_fraction, random_state=seed, stratify=digits.target)
    return x_train, y_train, x_test, y_test, 10
