"""Fast models against the cycle-exact model: ``python -m wafer_engine.tb.bench.fast_models``.

Runs the shapes of tests/test_fast_gemv.py and tests/test_fast_model.py (the same operands,
drawn with the same seeds) on the fast models and on the cycle-exact array model, and prints
the cycle estimates' relative errors, ``(fast - exact) / exact``: the figures docs/workloads.md
and docs/training.md quote. tests/test_docs.py recomputes them and checks both the figures and
that these case lists are still the tests' own.
"""

import argparse

import numpy as np

from wafer_engine.fabric.fast.gemm import gemm_fast, wgrad_fast
from wafer_engine.fabric.fast.gemv import gemv_fast
from wafer_engine.fabric.workloads import gemv_program
from wafer_engine.fabric.workloads.gemm import gemm_program
from wafer_engine.fabric.workloads.wgrad import wgrad_program
from wafer_engine.rtl.params import ArrayParams
from wafer_engine.sw.backends.run import run_workload
from wafer_engine.sw.training.job import TRAIN_ARRAY

__all__ = ["GEMV_CASES", "GEMM_CASES", "TRAIN_CASES", "gemv_errors", "gemm_errors",
           "train_errors", "summary"]

COMMAND = ".venv/bin/python -m wafer_engine.tb.bench.fast_models"

#: The PE of the RTL regressions (tests/test_fast_gemv.py).
REGRESSION_PE = dict(colors=3, mem_words=1024, max_len=512)

#: tests/test_fast_gemv.py: (rows, cols, M, N, density of x), each with and without ReLU.
GEMV_CASES = [(1, 1, 3, 4, 1.0), (1, 1, 7, 9, 0.5), (2, 2, 5, 7, 1.0), (2, 2, 9, 8, 0.3),
              (3, 4, 10, 13, 1.0), (3, 4, 10, 13, 0.4), (4, 4, 13, 18, 1.0),
              (4, 4, 13, 18, 0.0), (4, 4, 64, 64, 0.1), (2, 3, 2, 9, 1.0),
              (2, 4, 5, 3, 1.0), (4, 1, 20, 6, 1.0), (1, 4, 5, 33, 0.7)]
#: tests/test_fast_gemv.py: (rows, cols, M, N, B, weight density), no ReLU.
GEMM_CASES = [(1, 1, 6, 5, 3, 1.0), (1, 1, 6, 5, 3, 0.6), (2, 2, 40, 7, 5, 1.0),
              (2, 2, 40, 7, 5, 0.25), (3, 4, 9, 10, 7, 1.0), (3, 4, 9, 10, 7, 0.25),
              (4, 4, 13, 18, 10, 1.0), (4, 4, 13, 18, 10, 0.25), (4, 4, 5, 20, 8, 0.0),
              (4, 4, 16, 64, 16, 0.1)]
#: tests/test_fast_model.py: (rows, cols, M, N, B, density, relu), GEMM and weight gradient.
TRAIN_CASES = [(1, 1, 6, 5, 3, 1.0, False), (2, 2, 40, 7, 5, 0.25, True),
               (3, 4, 9, 10, 7, 0.5, False), (4, 4, 16, 32, 16, 0.1, True),
               (4, 4, 10, 64, 32, 0.1, False), (2, 3, 12, 9, 6, 0.0, True)]


def _error(fast, exact):
    return (fast - exact) / exact


def gemv_errors():
    """Relative cycle errors of ``gemv_fast``, one per (case, ReLU)."""
    errors = []
    for rows, cols, m, n, density in GEMV_CASES:
        params = ArrayParams.build(rows=rows, cols=cols, **REGRESSION_PE)
        rng = np.random.default_rng(rows * 100 + cols * 10 + m)
        a = rng.standard_normal((m, n))
        x = rng.standard_normal(n) * (rng.random(n) < density)
        for relu in (False, True):
            exact = run_workload(gemv_program(a, x, params, relu=relu), "golden").cycles
            errors.append(_error(gemv_fast(a, x, params, relu=relu)[1].cycles, exact))
    return errors


def gemm_errors():
    """Relative cycle errors of ``gemm_fast``, one per case."""
    errors = []
    for rows, cols, m, n, batch, density in GEMM_CASES:
        params = ArrayParams.build(rows=rows, cols=cols, **REGRESSION_PE)
        rng = np.random.default_rng(rows * 1000 + cols * 100 + m)
        w = rng.standard_normal((m, n)) * (rng.random((m, n)) < density)
        x = rng.standard_normal((n, batch))
        exact = run_workload(gemm_program(w, x, params), "golden").cycles
        errors.append(_error(gemm_fast(w, x, params)[1].cycles, exact))
    return errors


def train_errors():
    """``(GEMM errors, weight-gradient errors)`` of the training backend's fast model."""
    gemm, grad = [], []
    for rows, cols, m, n, batch, density, relu in TRAIN_CASES:
        params = TRAIN_ARRAY.replace(rows=rows, cols=cols)     # tests/test_fast_model.py's PE
        rng = np.random.default_rng(rows * 1000 + m * 10 + n)
        w = rng.standard_normal((m, n)) * (rng.random((m, n)) < density)
        x = np.maximum(rng.standard_normal((n, batch)), 0)
        x[0, 0] = -0.0
        exact = run_workload(gemm_program(w, x, params, relu=relu), "golden").cycles
        gemm.append(_error(gemm_fast(w, x, params, relu=relu)[1].cycles, exact))
        mask = rng.random((m, n)) < max(density, 0.3)
        dy = rng.standard_normal((m, batch)) * (rng.random((m, 1)) < 0.7)
        exact = run_workload(wgrad_program(mask, dy, x, params), "golden").cycles
        grad.append(_error(wgrad_fast(mask, dy, x, params)[1].cycles, exact))
    return gemm, grad


def percent(value):
    """``value`` (a fraction) as the docs print it: ``+1.68 %``."""
    return f"{100 * value:+.2f} %"


def summary():
    """``{name: (lowest, highest, largest magnitude)}`` of each model's errors."""
    gemm_t, grad_t = train_errors()
    out = {}
    for name, errors in (("gemv_fast", gemv_errors()), ("gemm_fast", gemm_errors()),
                         ("train gemm_fast", gemm_t), ("train wgrad_fast", grad_t)):
        out[name] = (min(errors), max(errors), max(abs(e) for e in errors))
    return out


def main(argv=None):
    argparse.ArgumentParser(prog="python -m wafer_engine.tb.bench.fast_models",
                            description=__doc__).parse_args(argv)
    for name, (low, high, worst) in summary().items():
        print(f"{name}: {percent(low)} to {percent(high)}, at most {100 * worst:.2f} % off")


if __name__ == "__main__":
    main()
