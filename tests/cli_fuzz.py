"""Generated command lines and files for the property tests of the ``wafer`` commands: good and
bad .npy operands, output paths, array flags, and the runner that checks each outcome."""

import contextlib
import io
import json
import pickle
from pathlib import Path

import numpy as np
from hypothesis import event, strategies as st

from wafer_engine.sw.cli.main import main

__all__ = ["GOOD_KINDS", "BAD_KINDS", "operand_kinds", "write_operand", "out_choice",
           "make_out", "array_flag_lists", "run_command", "check_outcome"]

#: Operand files the commands accept (values small enough for fp16).
GOOD_KINDS = ("float", "float", "float", "float32", "int", "bool", "sparse")
#: Operand files every command must refuse with one line.
BAD_KINDS = ("missing", "folder", "nan", "inf", "beyond_fp16", "empty", "rank", "complex",
             "text", "object", "pickle", "npz", "truncated", "zero_bytes", "structured",
             "strings", "mismatch")


def operand_kinds():
    """Mostly good operands, so valid runs are common, and every kind of bad one."""
    return st.sampled_from(GOOD_KINDS * 8 + BAD_KINDS)


def write_operand(path, kind, shape, rng):
    """Create ``path`` holding an operand of ``kind`` (see the lists above); ``shape`` is the
    shape a good operand would have."""
    good = rng.standard_normal(shape) * 3
    if kind == "missing":
        return
    if kind == "folder":
        path.mkdir()
    elif kind in ("float", "sparse"):
        np.save(path, good * (rng.random(shape) < (0.3 if kind == "sparse" else 1)))
    elif kind == "float32":
        np.save(path, good.astype(np.float32))
    elif kind == "int":
        np.save(path, rng.integers(-3, 4, shape))
    elif kind == "bool":
        np.save(path, rng.random(shape) < 0.5)
    elif kind in ("nan", "inf", "beyond_fp16"):
        good.flat[-1] = {"nan": np.nan, "inf": -np.inf, "beyond_fp16": 70000.0}[kind]
        np.save(path, good)
    elif kind == "empty":
        np.save(path, np.zeros((0,) * len(shape)))
    elif kind == "rank":
        np.save(path, np.ones(shape + (2,)) if len(shape) < 2 else np.ones(shape[:1]))
    elif kind == "complex":
        np.save(path, good.astype(complex))
    elif kind == "text":
        path.write_text("1.0, 2.0\n3.0, 4.0\n")
    elif kind == "object":
        np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    elif kind == "pickle":
        path.write_bytes(pickle.dumps(good))
    elif kind == "npz":
        with open(path, "wb") as f:
            np.savez(f, a=good)
    elif kind == "truncated":
        buf = io.BytesIO()
        np.save(buf, good)
        path.write_bytes(buf.getvalue()[:-5])
    elif kind == "zero_bytes":
        path.write_bytes(b"")
    elif kind == "structured":
        np.save(path, np.zeros(shape, dtype=[("a", "f4"), ("b", "i2")]))
    elif kind == "strings":
        np.save(path, np.full(shape, "x"))
    elif kind == "mismatch":
        np.save(path, np.ones(tuple(s + 1 for s in shape)))
    else:
        raise AssertionError(kind)


def out_choice():
    return st.sampled_from(["ok"] * 15 + ["no_folder", "deep", "is_folder", "suffix",
                                         "same_as_input"])


def make_out(folder, choice, same_as):
    """The output path for ``choice``; ``same_as``: an input path to collide with."""
    return {"ok": folder / "result.npy", "no_folder": folder / "nowhere" / "result.npy",
            "deep": folder / "a" / "b" / "c" / "result.npy", "is_folder": folder,
            "suffix": folder / "result.txt", "same_as_input": same_as}[choice]


def _flag_value(name, good):
    bad = st.sampled_from(["0", "-1", "5000000", "x", "1.5", ""])
    return st.one_of(good.map(str), good.map(str), good.map(str), bad).map(
        lambda v: [name, v])


#: Small valid values per array flag: runs stay short on the golden model.
ARRAY_FLAGS = {"--rows": st.integers(1, 3), "--cols": st.integers(1, 3),
               "--colors": st.integers(2, 4), "--mem-words": st.sampled_from([1, 4, 64, 4096]),
               "--acc-words": st.sampled_from([1, 16, 1024]),
               "--max-len": st.sampled_from([1, 8, 64, 512]), "--depth": st.integers(1, 3)}


@st.composite
def array_flag_lists(draw, names=tuple(ARRAY_FLAGS)):
    """A random subset of the array flags, each with a good or a bad value."""
    chosen = draw(st.lists(st.sampled_from(names), unique=True, max_size=3))
    out = []
    for name in chosen:
        out += draw(_flag_value(name, ARRAY_FLAGS[name]))
    return out


def run_command(argv):
    """``(status, stdout, stderr)`` of ``main(argv)``."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


def check_outcome(command, status, stdout, stderr, out_path, existed, folder):
    """Exit 0 with the promised output, or exit 2 with one error line and nothing written;
    never a traceback, never a temporary file left behind."""
    assert "Traceback" not in stderr, stderr
    assert status in (0, 2), (status, stderr)
    event(f"exit {status}")
    leftovers = [p.name for p in Path(folder).rglob("*.tmp")]
    assert not leftovers, leftovers
    if status == 2:
        assert stderr.startswith(f"wafer {command}: error: "), stderr
        assert stderr.count("\n") == 1 and stderr.endswith("\n"), stderr
        assert stdout == "", stdout
        if out_path is not None and not existed:
            assert not Path(out_path).exists(), out_path
        return None
    assert stderr == "", stderr
    return json.loads(stdout) if stdout.startswith("{") else stdout
