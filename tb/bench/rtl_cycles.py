"""RTL cycle counts against the golden model's prediction, for every RTL-simulated array case.

Three sources:

* the cocotb regressions (``tests/test_array_sim.py``): each run records, through
  :func:`record_run`, the cycles the RTL took (first wavelet taken in to last one sent out, on
  the RTL's edge signals, as :class:`~wafer_engine.sw.sim.array_tb.ArrayTB` observes them) and those a fresh
  golden model predicts for the same workload, in ``build/results/rtl_cycles/<config>.json``;
* the 4x4 RTL benchmarks' tables in docs/results.md (``wafer_engine.tb.bench.array``,
  ``wafer_engine.tb.bench.gemm``), which list the same runs once per backend;
* every Verilator-backend run of the benchmarks, which run their workloads through
  :func:`run_recorded` (the backend itself records nothing: a command never writes benchmark
  records), kept by :func:`record_backend_run` in ``build/results/rtl_cycles/backend/`` and
  predicted when the section is written.

:func:`prediction_rows` turns both into Markdown rows; ``python -m wafer_engine.tb.bench.rtl_cycles --write
docs/results.md`` writes them as a section (run it after the regressions and the benchmarks).
"""

import argparse
import hashlib
import json
import pickle
import re
from pathlib import Path

from wafer_engine.tb.bench.results import provenance, record, write_section
from wafer_engine.sw.sim.verilator import BUILD_DIR

__all__ = ["RECORD_DIR", "record_run", "run_recorded", "record_backend_run", "prediction_rows", "bench_pairs",
           "recorded_pairs", "backend_pairs"]

BEGIN, END = "<!-- rtl-prediction:begin -->", "<!-- rtl-prediction:end -->"
COMMAND = ".venv/bin/python -m wafer_engine.tb.bench.rtl_cycles --write docs/results.md"
#: How this table's span relates to the phase counts of docs/workloads.md.
SPAN = ("Span: the per-phase tables of docs/workloads.md count each phase until the array is "
        "quiet again, which can exceed this span when the last results are zeros that are never "
        "sent (GEMM 1x1 at W density 0.25 with ReLU: 26 + 32 = 58 cycles there, 56 here).")

RECORD_DIR = BUILD_DIR / "results" / "rtl_cycles"


def record_run(path, case, tb, predicted):
    """Store ``case -> [RTL cycles, predicted]`` in the JSON file ``path`` (nothing if ``path``
    is empty) and return the RTL count: the span of ``tb``'s observed edge traffic, from the
    first wavelet the RTL took in to the last one it sent out (to the end of the run if none
    left), as :func:`wafer_engine.sw.backends.run.run_golden` counts it on the model."""
    last = tb.last_out if tb.last_out is not None else tb.model.cycle
    rtl = 0 if tb.first_in is None else last + (tb.last_out is not None) - tb.first_in
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        record(path, case, [rtl, predicted])
    return rtl


_ROW = re.compile(r"^\| (\d+x\d+) \| (verilator|golden) \| ([0-9.]+) \| (\d+) \|")


def bench_pairs(doc):
    """``[(source, case, rtl, golden)]`` from the benchmark tables of Markdown file ``doc``:
    rows ``| array | backend | sparsity | cycles | ...`` of one section, paired by array and
    sparsity."""
    pairs = []
    text = Path(doc).read_text()
    for marker, what in (("array-bench", "GEMV"), ("gemm-bench", "GEMM")):
        begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
        if begin not in text:
            continue
        section = text.split(begin, 1)[1].split(end, 1)[0]
        runs = {}
        for line in section.splitlines():
            m = _ROW.match(line)
            if m:
                runs.setdefault((m[1], m[3]), {})[m[2]] = int(m[4])
        for (array, sparsity), by in runs.items():
            if "verilator" in by and "golden" in by:
                pairs.append((f"`wafer_engine.tb.bench.{'gemm' if what == 'GEMM' else 'array'}`",
                              f"{what} {array}, sparsity {sparsity}", by["verilator"],
                              by["golden"]))
    return pairs


def run_recorded(work, backend):
    """``run_workload(work, backend)`` for a benchmark; a Verilator run's RTL cycle count is
    kept with :func:`record_backend_run` for the prediction table."""
    from wafer_engine.sw.backends.run import run_workload
    result = run_workload(work, backend)
    if backend == "verilator" and result.cycles:
        record_backend_run(work, result.cycles)
    return result


def record_backend_run(work, rtl, folder=RECORD_DIR / "backend"):
    """Keep a Verilator-backend run (``wafer_engine.sw.backends.run.run_workload(work, "verilator")``, as the
    ``wafer`` commands and the benchmarks use it): the pickled workload and the RTL's cycle
    count, under a name made of the workload's digest, so that :func:`backend_pairs` can
    predict it with a fresh model later (not inside the timed run)."""
    blob = pickle.dumps(work)
    digest = hashlib.sha1(blob).hexdigest()[:16]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{digest}.pickle").write_bytes(blob)
    phases = len(work.phases)
    wavelets = sum(len(s) for phase in work.phases for s in phase.values())
    case = (f"{work.program.rows}x{work.program.cols}, {phases} phases, {wavelets} wavelets "
            f"in, workload {digest[:8]}")
    (folder / f"{digest}.json").write_text(json.dumps({"case": case, "rtl": rtl}))


def backend_pairs(folder=RECORD_DIR / "backend"):
    """``[(source, case, rtl, golden)]`` for the recorded Verilator-backend runs, each
    predicted now by :func:`wafer_engine.sw.backends.run.run_golden` on a fresh model."""
    from wafer_engine.sw.backends.run import run_golden

    pairs = []
    for path in sorted(Path(folder).glob("*.json")):
        run = json.loads(path.read_text())
        work = pickle.loads(path.with_suffix(".pickle").read_bytes())
        pairs.append(("Verilator backend", run["case"], run["rtl"], run_golden(work).cycles))
    return pairs


def recorded_pairs(folder=RECORD_DIR):
    """``[(source, case, rtl, golden)]`` from the regressions' JSON records."""
    pairs = []
    for path in sorted(Path(folder).glob("*.json")):
        for case, (rtl, golden) in json.loads(path.read_text()).items():
            pairs.append(("`tests/test_array_sim.py`", case, rtl, golden))
    return pairs


def prediction_rows(doc=None, folder=RECORD_DIR):
    """Markdown rows ``| source | case | RTL | golden | difference |`` for the benchmark tables
    of ``doc`` (if given) and the regression records in ``folder``."""
    rows = []
    pairs = (bench_pairs(doc) if doc else []) + recorded_pairs(folder) + \
        backend_pairs(Path(folder) / "backend")
    for source, case, rtl, golden in pairs:
        diff = "n/a (nothing entered)" if rtl == 0 else f"{100 * (golden - rtl) / rtl:+.2f} %"
        rows.append(f"| {source} | {case} | {rtl} | {golden} | {diff} |")
    return rows


def markdown(doc, folder=RECORD_DIR):
    rows = prediction_rows(doc, folder)
    worst = max((abs(float(r.split("|")[5].split()[0])) for r in rows if "%" in r),
                default=None)
    lines = [BEGIN, "## Golden cycle prediction against the RTL, every RTL-simulated array "
             "case", "", "Command (after `make test` and `make regress`, or "
             "`.venv/bin/python -m pytest tests/test_array_sim.py -m 'regress or not regress'`, "
             "which record the "
             "regression runs; the 4x4 runs in `make regress`):", "", "```sh",
             COMMAND, "```", "", provenance(COMMAND), "",
             "RTL cycles count from the first wavelet the RTL took in to the last one it sent "
             "out, on the RTL's own edge signals. " + SPAN + " The golden count comes from a fresh "
             "cycle-exact model: run on the same workload by the regression after the RTL run, "
             "or by the benchmark as its `golden` backend, or when this section is written "
             "(Verilator-backend runs: `wafer gemv/gemm --backend verilator`, the benchmarks "
             "and the CLI tests, kept in build/results/rtl_cycles/backend/ by "
             "sw/sim/array_run.py; only runs made since that record exists are listed). "
             "The PE-level RTL runs have their own RTL-against-model columns in the PE "
             "section.", "",
             "| source | case | RTL cycles | golden cycles | difference |",
             "|---|---|---|---|---|", *rows, ""]
    if worst is not None:
        lines += [f"{len(rows)} cases; largest difference {worst:.2f} % (target: within "
                  f"5 %).", ""]
    lines.append(END)
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m wafer_engine.tb.bench.rtl_cycles",
                                     description=__doc__)
    parser.add_argument("--write", help="Markdown file: read for the benchmark tables, and "
                        "its prediction section replaced")
    args = parser.parse_args(argv)
    text = markdown(args.write)
    print(text)
    if args.write:
        write_section(args.write, text, BEGIN, END)


if __name__ == "__main__":
    main()
