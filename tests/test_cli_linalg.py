"""`wafer gemv`: results against numpy, backends bit-identical, and bad input rejected."""

import json
import re

import numpy as np
import pytest

from wafer_engine.fabric.workloads.error_bound import chain_additions, reference_bound
from wafer_engine.fabric.model.wavelet import Wavelet
from wafer_engine.rtl.ports import Port
from wafer_engine.sw.backends.run import RunResult
from wafer_engine.sw.cli.linalg import report
from wafer_engine.sw.cli.main import main


def fp16_reference(a, x):
    return a.astype(np.float16).astype(np.float64) @ x.astype(np.float16).astype(np.float64)


@pytest.fixture
def operands(tmp_path):
    rng = np.random.default_rng(7)
    a = rng.standard_normal((37, 22))
    x = rng.standard_normal(22) * (rng.random(22) < 0.4)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "x.npy", x)
    return tmp_path, a, x


def gemv(folder, *extra, out="y.npy", vector="x.npy"):
    return main(["gemv", "--matrix", str(folder / "a.npy"), "--vector", str(folder / vector),
                 "--out", str(folder / out), *extra])


def test_gemv_golden_matches_numpy(operands, capsys):
    folder, a, x = operands
    assert gemv(folder, "--rows", "3", "--cols", "2", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    y = np.load(folder / "y.npy")
    assert y.dtype == np.float32 and y.shape == (37,)
    ref = fp16_reference(a, x)
    assert np.all(np.abs(y - ref) <= reference_bound(a, x, chain_additions(22, 2))[1])
    nonzero = int(np.count_nonzero(x.astype(np.float16)))
    # Each non-zero x_j triggers one AXPY over the PE's rows in every row of the array.
    assert summary["fmac_ops"] == nonzero * 37
    assert summary["wavelets"] == nonzero + 1  # the x non-zeros and one drain command
    assert summary["cycles"] > 0 and summary["config_cycles"] > 0
    assert summary["predicted"] == []  # the golden backend is the model


def test_gemv_all_zero_vector_still_writes_output(operands):
    folder, a, _ = operands
    np.save(folder / "zero.npy", np.zeros(22))
    assert gemv(folder, vector="zero.npy") == 0
    assert np.array_equal(np.load(folder / "y.npy"), np.zeros(37, dtype=np.float32))


def test_gemv_verilator_is_bit_identical_to_golden(operands, capsys):
    folder, _, _ = operands
    small = ["--rows", "2", "--cols", "2", "--mem-words", "512", "--json"]
    assert gemv(folder, *small, "--backend", "golden", out="golden.npy") == 0
    golden = json.loads(capsys.readouterr().out)
    assert gemv(folder, *small, "--backend", "verilator", out="rtl.npy") == 0
    rtl = json.loads(capsys.readouterr().out)
    assert np.load(folder / "golden.npy").tobytes() == np.load(folder / "rtl.npy").tobytes()
    # Every Verilator figure is counted on the RTL (cycles, configuration cycles and wavelets
    # taken in on its signals, the rest from its counters and outputs); the golden ones are
    # the model's: equality shows the model's predictions right, configuration included.
    assert rtl["predicted"] == golden["predicted"] == []
    for key in ("cycles", "fmac_ops", "zero_skipped", "wavelets", "wavelets_out",
                "config_cycles"):
        assert rtl[key] == golden[key], key


def test_json_lists_predicted_figures():
    result = RunResult(outputs={(Port.E, 0): [(3, Wavelet(1, 0))]}, cycles=9,
                       counters={(0, 0): {"fmac_issues": 4, "zeros_skipped": 1}},
                       config_cycles=40, wavelets_in=2,
                       predicted=frozenset({"config_cycles", "counters"}))
    assert report(result, "fpga") == {
        "backend": "fpga", "cycles": 9, "fmac_ops": 4, "zero_skipped": 1, "wavelets": 2,
        "wavelets_out": 1, "config_cycles": 40,
        "predicted": ["config_cycles", "fmac_ops", "zero_skipped"]}


@pytest.mark.parametrize("predicted,message", [
    ({"config"}, "Predicted figures must be among config_cycles, counters, cycles, outputs, "
                 "wavelets_in, not 'config'"),
    ("config_cycles", "Predicted figures must be a set of field names, not 'config_cycles'"),
])
def test_run_result_rejects_unknown_predicted_figures(predicted, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        RunResult({}, 0, {}, 0, 0, predicted=predicted)


@pytest.mark.parametrize("setup,message", [
    (lambda f: np.save(f / "x.npy", np.ones(5)),
     "wafer gemv: error: --vector '{f}/x.npy': has 5 entries; --matrix has 22 columns"),
    (lambda f: np.save(f / "x.npy", np.full(22, np.nan)),
     "wafer gemv: error: --vector '{f}/x.npy': holds NaN or infinite values"),
    (lambda f: np.save(f / "a.npy", np.full((37, 22), np.inf)),
     "wafer gemv: error: --matrix '{f}/a.npy': holds NaN or infinite values"),
    (lambda f: (f / "x.npy").unlink(),
     "wafer gemv: error: --vector '{f}/x.npy': no such file"),
])
def test_gemv_bad_input(operands, capsys, setup, message):
    folder, _, _ = operands
    setup(folder)
    assert gemv(folder) == 2
    assert capsys.readouterr().err.strip() == message.format(f=folder)
    assert not (folder / "y.npy").exists()


def test_gemv_problem_larger_than_the_array_runs_in_passes(tmp_path, capsys):
    rng = np.random.default_rng(4)
    a, x = rng.standard_normal((300, 4)), rng.standard_normal(4)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "x.npy", x)
    assert gemv(tmp_path, "--rows", "1", "--cols", "1", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["passes"] == 5 and summary["split_n"] is False
    assert [p["m"] for p in summary["per_pass"]] == [[k, k + 60] for k in range(0, 300, 60)]
    assert summary["fmac_ops"] == sum(p["fmac_ops"] for p in summary["per_pass"]) == 1200
    ref, bound = reference_bound(a, x, chain_additions(4, 1))
    assert np.all(np.abs(np.load(tmp_path / "y.npy") - ref) <= bound)


def test_gemm_passes_bit_identical_on_verilator(tmp_path, capsys):
    """A multi-pass GEMM whose input features are split (mem_words 8): every pass on the RTL,
    fp32 partial sums joined on the host, bit for bit the golden result."""
    rng = np.random.default_rng(9)
    np.save(tmp_path / "w.npy", rng.standard_normal((3, 20)) * (rng.random((3, 20)) < 0.7))
    np.save(tmp_path / "x.npy", rng.standard_normal((20, 2)))
    flags = ["--rows", "1", "--cols", "2", "--colors", "3", "--mem-words", "8",
             "--acc-words", "16", "--max-len", "16", "--relu", "--json"]
    runs = {}
    for backend in ("golden", "verilator"):
        out = tmp_path / f"{backend}.npy"
        assert main(["gemm", "--weights", str(tmp_path / "w.npy"), "--inputs",
                     str(tmp_path / "x.npy"), "--out", str(out), "--backend", backend,
                     *flags]) == 0
        runs[backend] = json.loads(capsys.readouterr().out)
    golden, rtl = runs["golden"], runs["verilator"]
    assert golden["passes"] == 4 and golden["split_n"] is True
    assert np.load(tmp_path / "golden.npy").tobytes() == \
        np.load(tmp_path / "verilator.npy").tobytes()
    for key in ("cycles", "fmac_ops", "wavelets", "wavelets_out", "config_cycles"):
        assert rtl[key] == golden[key], key
    assert rtl["per_pass"] == golden["per_pass"]


def test_gemm_golden_matches_numpy(tmp_path, capsys):
    rng = np.random.default_rng(3)
    w = rng.standard_normal((9, 21)) * (rng.random((9, 21)) < 0.3)
    x = rng.standard_normal((21, 10))
    np.save(tmp_path / "w.npy", w)
    np.save(tmp_path / "x.npy", x)
    assert main(["gemm", "--weights", str(tmp_path / "w.npy"), "--inputs",
                 str(tmp_path / "x.npy"), "--out", str(tmp_path / "y.npy"), "--relu",
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    y = np.load(tmp_path / "y.npy")
    ref = np.maximum(w.astype(np.float16).astype(np.float64)
                     @ x.astype(np.float16).astype(np.float64), 0)
    assert y.dtype == np.float32 and y.shape == (9, 10)
    assert np.all(np.abs(y - ref) <= reference_bound(w, x, chain_additions(21, 4), True)[1])
    nonzero = int(np.count_nonzero(w.astype(np.float16)))
    # Every streamed weight feeds the MACs of its batch slice in every array row: B in all.
    assert summary["fmac_ops"] == nonzero * 10


def test_gemm_shape_mismatch(tmp_path, capsys):
    np.save(tmp_path / "w.npy", np.ones((4, 5)))
    np.save(tmp_path / "x.npy", np.ones((6, 2)))
    assert main(["gemm", "--weights", str(tmp_path / "w.npy"), "--inputs",
                 str(tmp_path / "x.npy"), "--out", str(tmp_path / "y.npy")]) == 2
    assert capsys.readouterr().err == (f"wafer gemm: error: --inputs '{tmp_path}/x.npy': "
                                       f"has 6 rows; --weights has 5 columns\n")
    assert not (tmp_path / "y.npy").exists()


@pytest.mark.parametrize("flags,message", [
    (["--backend", "fpga"],
     "The fpga backend needs --port, the board's serial port (e.g. /dev/ttyUSB0)"),
    (["--port", "/dev/ttyUSB0"], "--port is for the fpga backend, not 'golden'"),
    (["--board", "ulx3s-85f"], "--board is for the fpga backend, not 'golden'"),
    (["--baud", "9600"], "--baud is for the fpga backend, not 'golden'"),
    (["--backend", "fpga", "--port", "loop://", "--board", "ulx3s-85f", "--rows", "2",
      "--mem-words", "256"],
     "--board ulx3s-85f fixes the array: A 2x2 array (3 colors, 256 memory words, 256 "
     "accumulators); drop --rows, --mem-words"),
    (["--backend", "fpga", "--port", "loop://", "--board", "de10"],
     "--board de10: Board must be one of ulx3s-85f, icebreaker, not 'de10'"),
    (["--backend", "fpga", "--port", "loop://", "--baud", "0"],
     "--baud 0: Baud rate must be an integer between 300 and 12000000, not 0"),
    # A loopback answers with the host's own bytes: the first is RESET's, not a reply.
    (["--backend", "fpga", "--port", "loop://"],
     "The FPGA's byte stream is out of step: Unexpected frame type byte 0x05 from the array"),
])
def test_gemv_fpga_backend_errors(operands, capsys, flags, message):
    folder, _, _ = operands
    size = [] if "--board" in flags else ["--rows", "1", "--cols", "1"]
    assert gemv(folder, *size, *flags) == 2
    assert capsys.readouterr().err.strip() == f"wafer gemv: error: {message}"
    assert not (folder / "y.npy").exists()


def test_gemv_fpga_port_that_does_not_open(operands, capsys):
    folder, _, _ = operands
    assert gemv(folder, "--backend", "fpga", "--port", str(folder / "no-such-tty")) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"wafer gemv: error: Cannot open serial port "
                          f"'{folder / 'no-such-tty'}': ")
    assert not (folder / "y.npy").exists()
