"""Property tests: every ``wafer`` command, driven through ``main(argv)`` with generated flags
and files, exits 0 with its promised output or 2 with one error line, never a traceback and
never a partial output (checks in tests/cli_fuzz.py)."""

import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from cli_fuzz import (array_flag_lists, check_outcome, make_out, operand_kinds, out_choice,
                      run_command, write_operand)
from wafer_engine.sw.training.job import TrainOptions, build_trainer, run_training

#: Examples per command: each valid run is a golden-model run of at most a few hundred cycles
#: on a few tiles, so a command's examples take well under 30 s (verilog: 25, each valid
#: one a Verilog generation of up to a few seconds; infer: 80).
EXAMPLES = 200
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


def _backend():
    return st.sampled_from([[]] * 20 + [["--backend", "golden"], ["--backend", "fpga"],
                                       ["--backend", "fpga", "--port", "loop://"],
                                       ["--backend", "rtl"], ["--port", "loop://"],
                                       ["--baud", "9600"], ["--board", "ulx3s-85f"]])


def _linalg_case(draw, command):
    m, n, b = draw(st.integers(1, 6)), draw(st.integers(1, 6)), draw(st.integers(1, 4))
    first, second = draw(operand_kinds()), draw(operand_kinds())
    return dict(shapes=((m, n), (n,) if command == "gemv" else (n, b)), kinds=(first, second),
                out=draw(out_choice()), flags=draw(array_flag_lists()),
                backend=draw(_backend()), relu=draw(st.booleans()), json=draw(st.booleans()),
                drop=draw(st.sampled_from([None] * 8 + ["first", "second", "--out"])),
                seed=draw(st.integers(0, 2**16)))


def _run_linalg(command, case):
    names = {"gemv": ("--matrix", "--vector"), "gemm": ("--weights", "--inputs")}[command]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rng = np.random.default_rng(case["seed"])
        paths = [folder / "a.npy", folder / "b.npy"]
        for path, kind, shape in zip(paths, case["kinds"], case["shapes"]):
            write_operand(path, kind, shape, rng)
        out = make_out(folder, case["out"], paths[0])
        existed = out.exists()
        argv = [command]
        for k, (name, path) in enumerate(zip(names, paths)):
            if case["drop"] != ("first", "second")[k]:
                argv += [name, path]
        if case["drop"] != "--out":
            argv += ["--out", out]
        argv += case["flags"] + case["backend"]
        argv += ["--relu"] * case["relu"] + ["--json"] * case["json"]
        status, stdout, stderr = run_command(argv)
        result = check_outcome(command, status, stdout, stderr, out, existed, folder)
        if status == 0:
            y = np.load(out)
            first, second = np.load(paths[0]), np.load(paths[1])
            assert y.dtype == np.float32
            assert y.shape == first.shape[:1] + second.shape[1:]
            if case["relu"]:
                assert np.all(y >= 0)
            if case["json"]:
                assert result["passes"] == len(result["per_pass"]) >= 1
        return status


@settings(PROPERTY)
@given(st.data())
def test_gemv_property(data):
    _run_linalg("gemv", data.draw(st.composite(lambda draw: _linalg_case(draw, "gemv"))()))


@settings(PROPERTY)
@given(st.data())
def test_gemm_property(data):
    _run_linalg("gemm", data.draw(st.composite(lambda draw: _linalg_case(draw, "gemm"))()))


@settings(PROPERTY, max_examples=25)
@given(top=st.sampled_from([[], ["--top", "router"], ["--top", "pe"], ["--top", "array"],
                            ["--top", "fabric"]]),
       flags=array_flag_lists(("--rows", "--cols", "--colors", "--depth", "--mem-words")),
       output=st.sampled_from(["new", "existing", "deep", "file"]))
def test_verilog_property(top, flags, output):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "existing").mkdir()
        (folder / "file").write_text("not a folder")
        target = {"new": folder / "new", "existing": folder / "existing",
                  "deep": folder / "x" / "y", "file": folder / "file"}[output]
        argv = ["verilog", *top, *flags, "-o", target]
        status, stdout, stderr = run_command(argv)
        check_outcome("verilog", status, stdout, stderr, None, True, folder)
        if status == 0:
            path = Path(stdout.strip())
            assert path.parent == target and path.suffix == ".v" and path.stat().st_size > 0
        else:
            assert not (folder / "x").exists()
            assert list((folder / "existing").iterdir()) == []


#: Each of these makes a ``wafer synth`` command line invalid.
SYNTH_FAULTS = [["--target", "virtex"], ["--board", "de10"],
                ["--target", "ecp5-25k", "--board", "icebreaker"], ["--freq", "0"],
                ["--freq", "-3"], ["--freq", "nan"], ["--freq", "inf"], ["--freq", "fast"],
                ["--target", "ice40-up5k", "--baud", "9600"], ["--seed", "3"],
                ["--board", "ulx3s-85f", "--baud", "10"],
                ["--board", "icebreaker", "--baud", "99999999"],
                ["--board", "ulx3s-85f", "--seed", "0"], ["-o", "{f}/x/y"],
                ["-o", "{f}/file"], ["--rows", "0"], ["--cols", "2000"], ["--colors", "30"],
                ["--mem-words", "0"], ["--max-len", "x"], ["--bogus"], ["stray"]]


@settings(PROPERTY)
@given(fault=st.sampled_from(SYNTH_FAULTS),
       extra=st.lists(st.sampled_from([["--json"], ["--freq", "50"], ["--rows", "1"],
                                       ["--target", "ecp5-85k"], ["-o", "{f}/new"]]),
                      max_size=2))
def test_synth_property_invalid_never_builds(fault, extra):
    """Only invalid synth command lines (a synthesis takes minutes): each exits 2 with one
    line before any build starts or any folder is made. The fault comes last, so no extra
    flag can override it (two faults could: ``--seed 0`` then ``--seed 3``)."""
    def ran(*args, **kwargs):
        raise AssertionError("a build started")
    with tempfile.TemporaryDirectory() as tmp, \
            mock.patch("wafer_engine.sw.flows.fpga_build.build_array", ran), \
            mock.patch("wafer_engine.sw.flows.board_build.build_board", ran):
        folder = Path(tmp)
        (folder / "file").write_text("not a folder")
        argv = ["synth"] + [a.format(f=folder) for part in extra + [fault] for a in part]
        status, stdout, stderr = run_command(argv)
        check_outcome("synth", status, stdout, stderr, None, True, folder)
        assert status == 2
        assert sorted(p.name for p in folder.iterdir()) == ["file"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("props") / "ckpt"
    opts = TrainOptions(hidden=(8,), epochs=1, sparsity=0.5, prune_epochs=0,
                        checkpoint=str(folder))
    trainer, data = build_trainer(opts)
    run_training(trainer, data, 1, checkpoint=opts.checkpoint, progress=False,
                 log=lambda text: None)
    return folder


@settings(PROPERTY, max_examples=80)
@given(data=st.data())
def test_infer_property(checkpoint, data):
    import shutil
    draw = data.draw
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ckpt = {"ok": checkpoint, "missing": folder / "none", "empty": folder,
                "file": folder / "a.npy"}[draw(st.sampled_from(["ok"] * 5 + ["missing",
                                                                         "empty", "file"]))]
        if draw(st.booleans()) and ckpt == checkpoint:
            ckpt = folder / "copy"
            shutil.copytree(checkpoint, ckpt)
            if draw(st.booleans()):
                (ckpt / "latest.json").write_text("{not json")
        rng = np.random.default_rng(draw(st.integers(0, 999)))
        samples = draw(st.integers(1, 5))
        write_operand(folder / "a.npy", draw(operand_kinds()), (samples, 64), rng)
        argv = ["infer", "--checkpoint", ckpt]
        source = draw(st.sampled_from(["inputs"] * 6 + ["both"]))
        argv += ["--inputs", folder / "a.npy"]
        if source == "both":
            argv += ["--dataset", "digits"]
        out = make_out(folder, draw(out_choice()), folder / "a.npy")
        existed = out.exists()
        if draw(st.booleans()):
            argv += ["--out", out]
        else:
            out = None
        argv += draw(array_flag_lists(("--rows", "--cols", "--colors", "--max-len")))
        argv += draw(st.sampled_from([[], ["--backend", "golden"], ["--backend", "fpga"]]))
        argv += ["--json"] * draw(st.booleans())
        status, stdout, stderr = run_command(argv)
        result = check_outcome("infer", status, stdout, stderr, out, existed, folder)
        if status == 0 and out is not None:
            predictions = np.load(out)
            assert predictions.shape == (samples,) and predictions.dtype == np.int64
            assert np.all((0 <= predictions) & (predictions < 10))
        if status == 0 and isinstance(result, dict):
            assert result["samples"] == samples
