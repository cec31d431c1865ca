"""What the ``wafer`` commands read and write: .npy operands checked before any work, and
results written atomically (a temporary file in the same folder, then a rename), so an
interrupted command never leaves a half-written file under the asked name.

Every check raises ``ValueError`` with one line naming the flag and the value:
``"--matrix 'a.npy': holds NaN or infinite values"``.
"""

import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["load_operand", "check_output", "check_output_folder", "write_atomic", "save_npy",
           "FP16_MAX"]

#: Largest finite fp16 magnitude: operands cross the fabric as fp16.
FP16_MAX = 65504
#: Array kinds read as numbers: bool, signed and unsigned integers, floats.
_NUMERIC = "biuf"
_RANKS = {1: "a vector (1 dimension)", 2: "a matrix (2 dimensions)"}


def _one_line(text):
    return " ".join(str(text).split())


def _read(path, name):
    """The array stored in ``path`` (memory-mapped: a header promising more data than the
    file holds is an error, not a huge allocation)."""
    shown = f"{name} {str(path)!r}"
    p = Path(path)
    if not p.exists():
        raise ValueError(f"{shown}: no such file")
    if p.is_dir():
        raise ValueError(f"{shown}: is a folder, not a .npy file")
    try:
        if p.stat().st_size == 0:
            raise ValueError(f"{shown}: is an empty file, not a .npy array")
        with open(p, "rb") as f:
            start = f.read(len(_MAGIC))
            if not start.startswith(_MAGIC):
                raise ValueError(f"{shown}: {_not_npy(start)}")
            f.seek(0)
            version = np.lib.format.read_magic(f)
            shape, _, dtype = _header(f, version)
        if dtype.hasobject:
            raise ValueError(f"{shown}: holds pickled Python objects; only numeric arrays "
                             f"are read")
        if dtype.kind not in _NUMERIC or dtype.fields is not None or dtype.subdtype:
            raise ValueError(f"{shown}: has dtype {dtype}; give real numbers (bool, integer "
                             f"or float)")
        if 0 in shape:
            raise ValueError(f"{shown}: is empty (shape {tuple(shape)})")
        return np.load(p, mmap_mode="r", allow_pickle=False)
    except PermissionError:
        raise ValueError(f"{shown}: cannot be read (permission denied)") from None
    except (OSError, EOFError, SyntaxError) as exc:
        raise ValueError(f"{shown}: is not a .npy array ({_one_line(exc)})") from None
    except ValueError as exc:
        if str(exc).startswith(shown):
            raise
        raise ValueError(f"{shown}: is not a .npy array ({_one_line(exc)})") from None


_MAGIC = b"\x93NUMPY"


def _not_npy(start):
    """What a file that lacks the .npy magic string seems to be, from its first bytes."""
    if start.startswith(b"PK\x03\x04"):
        return "is a zip (.npz) archive, not a .npy array"
    if start.startswith(b"\x80"):
        return "holds pickled Python objects; only numeric .npy arrays are read"
    return "is not a .npy array (it does not start with the .npy magic string)"


def _header(f, version):
    """``(shape, fortran_order, dtype)`` from an open .npy file after its magic string."""
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(f)
    raise ValueError(f"unsupported .npy version {version}")


def load_operand(path, name, ndim):
    """The float64 array of ``path`` (flag ``name``, e.g. ``"--matrix"``), which must hold a
    non-empty numeric array of ``ndim`` dimensions with finite values within fp16 range.
    Raises ``ValueError`` naming the flag and the file otherwise."""
    raw = _read(path, name)
    shown = f"{name} {str(path)!r}"
    if raw.ndim != ndim:
        raise ValueError(f"{shown}: has shape {raw.shape}; {_RANKS[ndim]} is needed")
    a = np.array(raw, dtype=np.float64)
    del raw
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{shown}: holds NaN or infinite values")
    if np.any(np.abs(a) > FP16_MAX):
        raise ValueError(f"{shown}: holds values beyond the fp16 range (|v| > {FP16_MAX})")
    return a


def check_output(path, name, suffix=".npy"):
    """``path`` as a :class:`~pathlib.Path` if a result can be written there: it ends in
    ``suffix`` (any name when ``suffix`` is None), is not a folder, and its folder exists and is writable (folders are never
    created). ``ValueError`` naming the flag and the value otherwise."""
    p = Path(path)
    shown = f"{name} {str(path)!r}"
    if suffix is not None and p.suffix != suffix:
        raise ValueError(f"{shown}: must end in {suffix}")
    if p.is_dir():
        raise ValueError(f"{shown}: is a folder")
    _check_writable(shown, p.parent)
    return p


def _check_writable(shown, folder):
    """``ValueError`` (``shown``: the flag and its value) unless ``folder`` exists and a file
    can be made in it."""
    if not folder.is_dir():
        raise ValueError(f"{shown}: the folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{shown}: the folder {str(folder)!r} is not writable")


def check_output_folder(path, name):
    """``path`` as a :class:`~pathlib.Path` if it is a folder, or can be made as one inside an
    existing, writable folder (one level: folder trees are never created). ``ValueError``
    naming the flag and the value otherwise."""
    p = Path(path)
    shown = f"{name} {str(path)!r}"
    if p.exists() and not p.is_dir():
        raise ValueError(f"{shown}: is a file, not a folder")
    _check_writable(shown, p if p.is_dir() else p.parent)
    return p


def write_atomic(path, write):
    """Write ``path`` through ``write(binary file)``: into a temporary file in the same
    folder, flushed to disk, then renamed over ``path``. If anything fails (or the command is
    interrupted) the temporary file is removed and ``path`` is left as it was."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_npy(path, array):
    """Save ``array`` as the .npy file ``path``, atomically (:func:`write_atomic`)."""
    write_atomic(path, lambda f: np.save(f, array, allow_pickle=False))
