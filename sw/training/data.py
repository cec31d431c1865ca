"""Data for the training job: the data sets scikit-learn ships (no download) or the user's own
``.npz`` files, checked before anything trains.

A data file holds two arrays: ``X`` (samples x features, real numbers) and ``y`` (one integer
label in ``0 .. K-1`` per sample). Every source gives raw features; the job standardises them
(:mod:`wafer_engine.sw.training.standardize`).
"""

import zipfile

import numpy as np

__all__ = ["DATASETS", "load_dataset", "load_npz", "load_data_files", "check_data",
           "split_data"]

#: scikit-learn's bundled data sets: 8x8 digits (10 classes), iris (3), wine (3), breast
#: cancer (2).
DATASETS = ("digits", "iris", "wine", "breast_cancer")


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


def split_data(x, y, test_fraction, seed):
    """``(x_train, y_train, x_test, y_test)``: a split fixed by ``seed``, stratified when every
    class has at least two samples."""
    from sklearn.model_selection import train_test_split

    stratify = y if np.bincount(y).min(initial=0) >= 2 and len(np.unique(y)) > 1 else None
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=stratify)
    return x_train, y_train, x_test, y_test


def load_dataset(name="digits", test_fraction=0.2, seed=0):
    """``(x_train, y_train, x_test, y_test, classes)`` of one of :data:`DATASETS`: raw float32
    features, integer labels, a stratified split fixed by ``seed``."""
    if name not in DATASETS:
        raise ValueError(f"Dataset must be one of {', '.join(DATASETS)}, not {name!r}")
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, f"load_{name}")()
    x, y = bunch.data.astype(np.float32), bunch.target.astype(np.int64)
    return (*split_data(x, y, test_fraction, seed), int(y.max()) + 1)


def load_npz(path):
    """``(X, y)`` of the data file ``path`` (float32 samples x features, int64 labels), or a
    one-line ``ValueError`` naming the file and what is wrong with it. Read without
    unpickling."""
    try:
        f = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: cannot read as .npz: {exc}") from None
    if not isinstance(f, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: cannot read as .npz: it holds a single array")
    with f:
        names = sorted(f.files)
        if not {"X", "y"} <= set(names):
            raise ValueError(f"{path} must hold arrays X and y, not {names}")
        try:
            x, y = f["X"], f["y"]
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise ValueError(f"{path}: cannot read as .npz: {exc}") from None
    if x.ndim != 2:
        raise ValueError(f"{path}: X must be samples x features (2-D), not shape {x.shape}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{path}: X has no samples or no features (shape {x.shape})")
    if x.dtype.kind not in "biuf":
        raise ValueError(f"{path}: X must hold real numbers, not dtype {x.dtype}")
    if y.shape != (x.shape[0],):
        raise ValueError(f"{path}: y must have shape ({x.shape[0]},) to match X, not "
                         f"{y.shape}")
    if y.dtype.kind not in "iu":
        raise ValueError(f"{path}: y must hold integer labels, not dtype {y.dtype}")
    with np.errstate(over="ignore"):              # reported below, with its position
        x32 = x.astype(np.float32)
    for what, values in (("NaN or infinite values", x),
                         ("values beyond the float32 range", x32)):
        bad = np.argwhere(~np.isfinite(values))
        if len(bad):
            raise ValueError(f"{path}: X holds {what} (first at sample {bad[0][0]}, "
                             f"feature {bad[0][1]})")
    x = x32
    if y.min() < 0:
        first = int(np.argmax(y < 0))
        raise ValueError(f"{path}: y must hold labels 0 .. K-1, not {y[first]} (sample "
                         f"{first})")
    return x, y.astype(np.int64)


def load_data_files(train, test=None, test_fraction=0.2, seed=0):
    """``(x_train, y_train, x_test, y_test, classes)`` from the data files ``train`` and
    ``test`` (or, without ``test``, a split of ``train`` as for :func:`load_dataset`).
    ``classes`` is the training file's largest label plus one; the test file must have the
    same features and no other classes."""
    x, y = load_npz(train)
    classes = int(y.max()) + 1
    if test is None:
        if len(y) < 2:
            raise ValueError(f"{train}: {len(y)} sample cannot be split into training and "
                             f"test samples; give --test")
        return (*split_data(x, y, test_fraction, seed), classes)
    x_test, y_test = load_npz(test)
    if x_test.shape[1] != x.shape[1]:
        raise ValueError(f"{test}: X has {x_test.shape[1]} features, {train} has "
                         f"{x.shape[1]}")
    if y_test.max() >= classes:
        raise ValueError(f"{test}: labels must lie in [0, {classes}) (the classes of "
                         f"{train}), not up to {y_test.max()}")
    return x, y, x_test, y_test, classes
