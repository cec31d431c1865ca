"""Atomic checkpoints: ``.npz`` files plus a ``latest.json`` pointer holding their SHA-256.

Saving writes ``ckpt-<step>.npz`` to a temporary name, flushes it to disk and renames it, then
replaces ``latest.json`` the same way. A crash at any point leaves ``latest.json`` naming a
complete earlier checkpoint whose checksum still matches, so nothing stored is lost; only the
two newest checkpoints are kept. Loading checks the checksum and the model signature before
anything is copied into the weight store. Files are read with ``allow_pickle=False``: a
checkpoint holds plain arrays and never runs code.

Arrays other than the store's (``extra``: the input statistics) ride along in the same file.
"""

import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np

__all__ = ["save_checkpoint", "load_checkpoint", "read_checkpoint", "has_checkpoint",
           "POINTER"]

POINTER = "latest.json"
_KEEP = 2


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_atomic(path, data):
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save_checkpoint(directory, store, meta, extra=None):
    """Write ``store``'s arrays, the ``extra`` arrays (``{name: array}``, names unlike the
    store's) and ``meta`` (JSON-able dict with at least ``step``) to ``directory``; returns
    the checkpoint's path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = dict(extra or {})
    arrays.update(store.arrays())
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    name = f"ckpt-{int(meta['step']):08d}.npz"
    path = directory / name
    _write_atomic(path, buf.getvalue())
    pointer = dict(meta, file=name, sha256=_sha256(path), signature=store.spec.signature)
    _write_atomic(directory / POINTER, json.dumps(pointer, indent=1).encode())
    for old in sorted(directory.glob("ckpt-*.npz"))[:-_KEEP]:
        old.unlink()
    return path


def has_checkpoint(directory):
    """Whether ``directory`` holds a checkpoint pointer."""
    return (Path(directory) / POINTER).exists()


def read_checkpoint(directory, expect=None):
    """``(meta, {name: array})`` of the newest checkpoint in ``directory``, its checksum
    verified. ``expect``: metadata the checkpoint must have been saved with (e.g.
    ``{"batch": 32}``). ``ValueError`` if there is no checkpoint, it was saved with other
    ``expect`` values or its checksum does not match (corrupted or truncated)."""
    directory = Path(directory)
    pointer_path = directory / POINTER
    if not pointer_path.exists():
        raise ValueError(f"No checkpoint in {directory} ({POINTER} missing)")
    try:
        meta = json.loads(pointer_path.read_text())
        path = directory / meta["file"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"Checkpoint pointer {pointer_path} is corrupted: {exc}") from None
    for key, mine in (expect or {}).items():
        if key in meta and meta[key] != mine:
            raise ValueError(f"Checkpoint in {directory} was made with {key} {meta[key]!r}, "
                             f"this run has {mine!r}")
    if not path.exists():
        raise ValueError(f"Checkpoint {path} named by {pointer_path} is missing")
    digest = _sha256(path)
    if digest != meta.get("sha256"):
        raise ValueError(f"Checkpoint {path} is corrupted: SHA-256 {digest[:16]}... does not "
                         f"match {str(meta.get('sha256'))[:16]}...")
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    return meta, arrays


def load_checkpoint(directory, store, expect=None, extra=None):
    """Load the newest checkpoint of ``directory`` into ``store``; returns its metadata.

    ``expect``: as for :func:`read_checkpoint`; ``extra``: arrays the checkpoint must hold
    unchanged if it holds them (the input statistics: resuming on other data is refused).
    ``ValueError`` (and ``store`` untouched) for the errors of :func:`read_checkpoint`, a
    checkpoint of another model, or other ``extra`` arrays."""
    meta, arrays = read_checkpoint(directory, expect)
    path = Path(directory) / meta["file"]
    if meta.get("signature") != store.spec.signature:
        raise ValueError(f"Checkpoint {path} is of model {meta.get('signature')!r}, not "
                         f"{store.spec.signature!r}")
    for name, mine in (extra or {}).items():
        if name in arrays and not np.array_equal(arrays[name], mine):
            raise ValueError(f"Checkpoint {path} was made with another {name} (other "
                             f"training data?)")
    store.load_arrays(arrays)
    return meta
