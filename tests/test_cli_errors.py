"""Every error the ``wafer`` commands print for bad input: one exact line on stderr, exit
status 2, nothing written; and outputs written atomically."""

import numpy as np
import pytest

from cli_fuzz import BAD_KINDS, run_command, write_operand
from wafer_engine.sw.cli.files import save_npy

#: (operand kind written as --matrix, the message after "wafer gemv: error: --matrix '{p}': ").
OPERAND_ERRORS = {
    "missing": "no such file",
    "folder": "is a folder, not a .npy file",
    "nan": "holds NaN or infinite values",
    "inf": "holds NaN or infinite values",
    "beyond_fp16": "holds values beyond the fp16 range (|v| > 65504)",
    "empty": "is empty (shape (0, 0))",
    "rank": "has shape (2,); a matrix (2 dimensions) is needed",
    "complex": "has dtype complex128; give real numbers (bool, integer or float)",
    "text": "is not a .npy array (it does not start with the .npy magic string)",
    "object": "holds pickled Python objects; only numeric arrays are read",
    "pickle": "holds pickled Python objects; only numeric .npy arrays are read",
    "npz": "is a zip (.npz) archive, not a .npy array",
    "truncated": "is not a .npy array (mmap length is greater than file size)",
    "zero_bytes": "is an empty file, not a .npy array",
    "structured": "has dtype [('a', '<f4'), ('b', '<i2')]; give real numbers (bool, integer "
                  "or float)",
    "strings": "has dtype <U1; give real numbers (bool, integer or float)",
}


def test_every_bad_operand_kind_has_a_message():
    assert set(OPERAND_ERRORS) == set(BAD_KINDS) - {"mismatch"}


@pytest.mark.parametrize("kind", sorted(OPERAND_ERRORS))
def test_bad_operand(tmp_path, kind):
    write_operand(tmp_path / "a.npy", kind, (2, 3), np.random.default_rng(0))
    np.save(tmp_path / "x.npy", np.ones(3))
    status, out, err = run_command(["gemv", "--matrix", tmp_path / "a.npy", "--vector",
                                    tmp_path / "x.npy", "--out", tmp_path / "y.npy"])
    assert (status, out) == (2, "")
    assert err == f"wafer gemv: error: --matrix '{tmp_path}/a.npy': {OPERAND_ERRORS[kind]}\n"
    assert not (tmp_path / "y.npy").exists()


#: (command line with {f} for the folder holding a.npy (2 x 3), v.npy (3) and file.txt, the
#: exact stderr line).
COMMAND_ERRORS = [
    (["gemv", "--matrix", "{f}/a.npy", "--vector", "{f}/a.npy", "--out", "{f}/y.npy"],
     "wafer gemv: error: --vector '{f}/a.npy': has shape (2, 3); a vector (1 dimension) is "
     "needed"),
    (["gemv", "--matrix", "{f}/a.npy", "--vector", "{f}/w.npy", "--out", "{f}/y.npy"],
     "wafer gemv: error: --vector '{f}/w.npy': has 4 entries; --matrix has 3 columns"),
    (["gemv", "--matrix", "{f}/a.npy", "--vector", "{f}/v.npy", "--out", "{f}/y.txt"],
     "wafer gemv: error: --out '{f}/y.txt': must end in .npy"),
    (["gemv", "--matrix", "{f}/a.npy", "--vector", "{f}/v.npy", "--out", "{f}/d.npy"],
     "wafer gemv: error: --out '{f}/d.npy': is a folder"),
    (["gemv", "--matrix", "{f}/a.npy", "--vector", "{f}/v.npy", "--out", "{f}/no/dir/y.npy"],
     "wafer gemv: error: --out '{f}/no/dir/y.npy': the folder '{f}/no/dir' does not exist"),
    (["gemv", "--matrix", "{f}/a.npy", "--vector", "{f}/v.npy", "--out", "{f}/v.npy"],
     "wafer gemv: error: --out '{f}/v.npy': is also the --vector file"),
    (["gemv", "--matrix", "{f}/a.npy", "--vector", "{f}/v.npy", "--out", "{f}/y.npy",
      "--colors", "2"],
     "wafer gemv: error: --colors 2: The GEMV mapping on 3 array columns needs 3 colors; the "
     "PE has 2"),
    (["gemv", "--matrix", "{f}/a.npy", "--vector", "{f}/v.npy", "--out", "{f}/y.npy",
      "--rows", "0"],
     "wafer gemv: error: --rows 0: Row count must be an integer between 1 and 1024, not 0"),
    (["gemv", "--matrix", "{f}/a.npy", "--vector", "{f}/v.npy", "--out", "{f}/y.npy",
      "--max-len", "70000"],
     "wafer gemv: error: --max-len 70000: Maximum vector length must be an integer between 1 "
     "and 65535, not 70000"),
    (["gemv", "--matrix", "{f}/a.npy", "--vector", "{f}/v.npy"],
     "wafer gemv: error: the following arguments are required: --out"),
    (["gemv", "--matrix", "{f}/a.npy", "--vector", "{f}/v.npy", "--out", "{f}/y.npy",
      "--rows", "two"],
     "wafer gemv: error: argument --rows: invalid int value: 'two'"),
    (["gemv", "--matrix", "{f}/a.npy", "--vector", "{f}/v.npy", "--out", "{f}/y.npy",
      "stray"],
     "wafer gemv: error: unrecognized arguments: stray"),
    (["gemm", "--weights", "{f}/a.npy", "--inputs", "{f}/b.npy", "--out", "{f}/y.npy",
      "--backend", "fpga", "--port", "loop://", "--board", "ulx3s-85f", "--relu"],
     "wafer gemm: error: --rows 2 --cols 2: X has 1 batch columns for 2 array rows: row 1 "
     "would own none; use at most 1 rows"),
    (["gemm", "--weights", "{f}/a.npy", "--inputs", "{f}/a.npy", "--out", "{f}/y.npy"],
     "wafer gemm: error: --inputs '{f}/a.npy': has 2 rows; --weights has 3 columns"),
    (["gemm", "--weights", "{f}/a.npy", "--inputs", "{f}/b.npy", "--out", "{f}/y.npy",
      "--colors", "2"],
     "wafer gemm: error: --colors 2: The GEMM mapping needs 3 colors (weights and two "
     "partial-sum colors); the PE has 2"),
    (["gemm", "--weights", "{f}/a.npy", "--inputs", "{f}/b.npy", "--out", "{f}/y.npy",
      "--backend", "cpu"],
     "wafer gemm: error: argument --backend: invalid choice: 'cpu' (choose from 'golden', "
     "'verilator', 'fpga')"),
    (["verilog", "--top", "fabric"],
     "wafer verilog: error: --top must be one of router, pe, tile, array, not 'fabric'"),
    (["verilog", "--top", "router", "--rows", "2"],
     "wafer verilog: error: --rows does not apply to --top router (it takes --colors, "
     "--depth)"),
    (["verilog", "--rows", "2", "--cols", "0", "-o", "{f}/v"],
     "wafer verilog: error: --cols 0: Column count must be an integer between 1 and 1024, "
     "not 0"),
    (["verilog", "-o", "{f}/file.txt"],
     "wafer verilog: error: --output '{f}/file.txt': is a file, not a folder"),
    (["verilog", "-o", "{f}/x/y"],
     "wafer verilog: error: --output '{f}/x/y': the folder '{f}/x' does not exist"),
    (["synth", "--freq", "inf"],
     "wafer synth: error: --freq inf: Timing goal must be a positive number of MHz"),
    (["synth", "--freq", "0.0"],
     "wafer synth: error: --freq 0.0: Timing goal must be a positive number of MHz"),
    (["synth", "--target", "virtex"],
     "wafer synth: error: --target virtex: Target must be one of ecp5-85k, ecp5-25k, "
     "ice40-up5k, not 'virtex'"),
    (["synth", "--board", "de10"],
     "wafer synth: error: --board de10: Board must be one of ulx3s-85f, icebreaker, not "
     "'de10'"),
    (["synth", "--seed", "3"], "wafer synth: error: --seed is for --board builds"),
    (["synth", "--baud", "9600"],
     "wafer synth: error: --baud is for --board builds (a bare array has no UART)"),
    (["synth", "--board", "ulx3s-85f", "--baud", "10"],
     "wafer synth: error: --baud 10: Baud rate must be an integer between 300 and 12000000, "
     "not 10"),
    (["synth", "--board", "ulx3s-85f", "--seed", "0"],
     "wafer synth: error: --seed 0: Placement seed must be an integer between 1 and "
     "2147483647, not 0"),
    (["synth", "-o", "{f}/file.txt"],
     "wafer synth: error: --output '{f}/file.txt': is a file, not a folder"),
    (["synth", "--target", "ecp5-85k", "--board", "icebreaker"],
     "wafer synth: error: argument --board: not allowed with argument --target"),
    (["synth", "--rows", "2000"],
     "wafer synth: error: --rows 2000: Row count must be an integer between 1 and 1024, not "
     "2000"),
    (["train", "--lr-schedule", "step"],
     "wafer train: error: argument --lr-schedule: invalid choice: 'step' (choose from "
     "'cosine', 'constant')"),
    ([], "wafer: error: the following arguments are required: command"),
    (["bogus"], "wafer: error: argument command: invalid choice: 'bogus' (choose from "
                "'verilog', 'gemv', 'gemm', 'train', 'synth', 'infer')"),
]


@pytest.mark.parametrize("argv,message", COMMAND_ERRORS)
def test_command_error(tmp_path, argv, message):
    np.save(tmp_path / "a.npy", np.ones((2, 3)))
    np.save(tmp_path / "b.npy", np.ones((3, 1)))
    np.save(tmp_path / "v.npy", np.ones(3))
    np.save(tmp_path / "w.npy", np.ones(4))
    (tmp_path / "d.npy").mkdir()
    (tmp_path / "file.txt").write_text("x")
    before = sorted(p.name for p in tmp_path.iterdir())
    status, out, err = run_command([a.format(f=tmp_path) for a in argv])
    assert (status, out) == (2, "")
    assert err == message.format(f=tmp_path) + "\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


class Interrupted(BaseException):
    pass


def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    """A write stopped half-way (here: after 100 bytes) leaves neither the asked file nor a
    temporary one; an earlier result under that name is kept."""
    np.save(tmp_path / "y.npy", np.zeros(3))
    original = (tmp_path / "y.npy").read_bytes()

    def half_then_interrupt(f, array, allow_pickle):
        f.write(b"\x93NUMPY" + b"\0" * 94)
        raise Interrupted
    monkeypatch.setattr(np, "save", half_then_interrupt)
    with pytest.raises(Interrupted):
        save_npy(tmp_path / "y.npy", np.ones(1000))
    assert (tmp_path / "y.npy").read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["y.npy"]


def test_gemv_output_is_written_whole(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((2, 3)))
    np.save(tmp_path / "v.npy", np.ones(3))
    status, out, err = run_command(["gemv", "--matrix", tmp_path / "a.npy", "--vector",
                                    tmp_path / "v.npy", "--out", tmp_path / "y.npy"])
    assert (status, err) == (0, "")
    assert np.load(tmp_path / "y.npy").tolist() == [3.0, 3.0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy", "v.npy", "y.npy"]
