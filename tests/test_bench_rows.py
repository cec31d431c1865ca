"""wafer_engine.tb.bench.results.speedup_rows, the sparsity-sweep table rows shared by the array benchmarks, the
benchmarks' Markdown built with it (no simulation: recorded cycle counts stand in), and the
rows of the RTL-against-prediction table (tb/bench/rtl_cycles.py)."""

import numpy as np
import pytest

from wafer_engine.fabric.workloads import gemv_program
from wafer_engine.sw.backends.run import run_golden
from wafer_engine.tb.bench import array as bench, gemm as bench_gemm
from wafer_engine.tb.bench.rtl_cycles import prediction_rows, record_backend_run, record_run
from wafer_engine.tb.bench.results import speedup_rows
from wafer_engine.rtl.params import ArrayParams

#: The 4x4 RTL rows of docs/results.md as the per-benchmark loops wrote them before the helper.
GEMV_ROWS = """\
| 4x4 | verilator | 0.00 | 4196 | 1.00 | 1.0 | 1.00 | 65536 | 66184 |
| 4x4 | verilator | 0.50 | 2068 | 2.03 | 2.0 | 1.01 | 30464 | 66184 |
| 4x4 | verilator | 0.75 | 1236 | 3.39 | 4.0 | 0.85 | 15232 | 66184 |
| 4x4 | verilator | 0.90 | 660 | 6.36 | 10.0 | 0.64 | 6144 | 66184 |
| 4x4 | verilator | 0.95 | 324 | 12.95 | 20.0 | 0.65 | 3008 | 66184 |
| 4x4 | verilator | 0.99 | 148 | 28.35 | 100.0 | 0.28 | 448 | 66184 |"""
GEMM_ROWS = """\
| 4x4 | golden | 0.00 | 16532 | 1.00 | 1.0 | 1.00 | 262144 |
| 4x4 | golden | 0.50 | 8328 | 1.99 | 2.0 | 0.99 | 130336 |
| 4x4 | golden | 0.75 | 4301 | 3.84 | 4.0 | 0.96 | 64960 |
| 4x4 | golden | 0.90 | 1874 | 8.82 | 10.0 | 0.88 | 25376 |
| 4x4 | golden | 0.95 | 990 | 16.70 | 20.0 | 0.83 | 12352 |
| 4x4 | golden | 0.99 | 319 | 51.82 | 100.0 | 0.52 | 2336 |"""


class _Result:
    """The parts of wafer_engine.sw.backends.run.RunResult the benchmarks' tables read."""

    def __init__(self, cycles, fmacs, config_cycles=0):
        self.cycles, self.fmacs, self.config_cycles = cycles, fmacs, config_cycles

    def total(self, counter):
        assert counter == "fmac_issues"
        return self.fmacs


def _parse(rows):
    """``[(sparsity, result)]`` from table rows (cells 2.. as written above)."""
    out = []
    for line in rows.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        extra = [int(c) for c in cells[7:]]
        out.append((float(cells[2]), _Result(int(cells[3]), *extra)))
    return out


def test_speedup_rows_reproduce_the_recorded_tables():
    gemv = _parse(GEMV_ROWS)
    assert "\n".join(speedup_rows(("4x4", "verilator"), [
        (s, r.cycles, r.fmacs, r.config_cycles) for s, r in gemv])) == GEMV_ROWS
    gemm = _parse(GEMM_ROWS)
    assert "\n".join(speedup_rows(("4x4", "golden"), [
        (s, r.cycles, r.fmacs) for s, r in gemm])) == GEMM_ROWS


def test_benchmarks_write_their_rows_with_the_helper():
    gemv = [(s, r, 1.0) for s, r in _parse(GEMV_ROWS)]
    text = bench.markdown([], [], [(("4x4", "verilator"), gemv)], [])
    assert GEMV_ROWS in text
    gemm = [(s, r, 1.0) for s, r in _parse(GEMM_ROWS)]
    text = bench_gemm.markdown([(("4x4", "golden"), gemm)], np.ones((2, 2)), 10, "x.png")
    assert GEMM_ROWS in text


@pytest.mark.parametrize("points,message", [
    ([], "A sparsity sweep needs at least the dense point, not none"),
    ([(0.5, 10)], "The first point of a sparsity sweep must be the dense run (sparsity 0), "
                  "not sparsity 0.5"),
    ([(0.0, 10), (1.0, 5)], "Sparsity must lie in [0, 1), not 1.0"),
    ([(0.0, 10), (-0.1, 5)], "Sparsity must lie in [0, 1), not -0.1"),
    ([(0.0, 10), (0.5, 0)], "Cycle counts must be at least 1, not 0"),
])
def test_speedup_rows_errors(points, message):
    with pytest.raises(ValueError) as info:
        speedup_rows(("4x4",), points)
    assert str(info.value) == message


def test_rtl_prediction_rows(tmp_path):
    """wafer_engine.tb.bench.rtl_cycles: benchmark tables paired by array and sparsity, regression records,
    and Verilator-backend runs predicted by a fresh model when the rows are written."""
    doc = tmp_path / "results.md"
    doc.write_text("\n".join([
        "<!-- gemm-bench:begin -->", "| array | backend | zero weights | cycles |",
        "| 4x4 | verilator | 0.50 | 8328 | 1.99 |", "| 4x4 | golden | 0.50 | 8328 | 1.99 |",
        "| 4x4 | verilator | 0.90 | 1874 | 8.82 |", "<!-- gemm-bench:end -->"]))
    folder = tmp_path / "records"
    # First wavelet in at cycle 3, last out at 40: 38 cycles.
    record_run(folder / "2x2.json", "GEMV 2x2", _Span(3, 40, 99), 38)
    work = gemv_program(np.eye(3), np.array([1.0, 0.0, 2.0]), ArrayParams.build(rows=1, cols=1))
    record_backend_run(work, 41, folder / "backend")
    rows = prediction_rows(doc, folder)
    assert rows[0] == "| `wafer_engine.tb.bench.gemm` | GEMM 4x4, sparsity 0.50 | 8328 | 8328 | +0.00 % |"
    assert rows[1] == "| `tests/test_array_sim.py` | GEMV 2x2 | 38 | 38 | +0.00 % |"
    predicted = run_golden(work).cycles
    assert rows[2].startswith("| Verilator backend | 1x1, 2 phases, 3 wavelets in, workload ")
    assert rows[2].endswith(f"| 41 | {predicted} | {100 * (predicted - 41) / 41:+.2f} % |")
    assert len(rows) == 3       # the 0.90 run has no golden partner


class _Span:
    """What record_run reads of an ArrayTB: first_in, last_out, model.cycle."""

    def __init__(self, first_in, last_out, end):
        self.first_in, self.last_out = first_in, last_out
        self.model = type("M", (), {"cycle": end})()
