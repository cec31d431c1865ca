"""Running a pass plan: each pass through a backend, the blocks joined on the host.

Blocks of output rows and batch columns are placed where they belong. Blocks of input
features return fp32 partial sums (``fp32_out``), which the host adds in N order with the
fabric's own adder (:func:`~wafer_engine.fabric.model.fp_model.fp32_add`), then applies ReLU
and the fp32 -> fp16 rounding, zeros read as +0: the output stage the last column would have
applied to the whole sum.
"""

from dataclasses import dataclass

import numpy as np

from wafer_engine.fabric.model.fp_model import fp32_add, fp32_relu, fp32_to_fp16
from wafer_engine.fabric.workloads.common import collect_vector
from wafer_engine.fabric.workloads.gemm import collect_matrix, collect_matrix_fp32, gemm_program
from wafer_engine.fabric.workloads.gemv import collect_vector_fp32, gemv_program

__all__ = ["PassRun", "run_gemm_passes", "run_gemv_passes", "finish_sums"]


@dataclass
class PassRun:
    """One pass as it ran: its block (:class:`~wafer_engine.sw.passes.plan.Pass`) and the
    backend's :class:`~wafer_engine.sw.backends.result.RunResult`."""
    block: object
    result: object


def finish_sums(sums, relu):
    """float32 results from fp32 sums (uint32 bit patterns): ReLU if asked, fp16 rounding to
    nearest even, zeros (never sent by the fabric) as +0."""
    s = fp32_relu(sums) if relu else sums
    y16 = fp32_to_fp16(s)
    y16 = np.where(y16 & 0x7FFF, y16, 0).astype(np.uint16)
    return y16.view(np.float16).astype(np.float32)


def _outputs(work, result):
    return [result.outputs[o] for o in work.outputs]


def run_gemm_passes(w, x, plan, run, relu=False):
    """``(Y, [PassRun])`` of ``Y = W X`` (optionally ReLU) by ``plan``
    (:func:`~wafer_engine.sw.passes.plan.plan_gemm`); ``run(workload)`` runs one pass on a
    backend and returns its ``RunResult``. Y is float32, M x B."""
    w, x = np.asarray(w, dtype=np.float64), np.asarray(x, dtype=np.float64)
    m, _, batch = plan.shape
    y = np.zeros((m, batch), dtype=np.float32)
    runs, sums = [], {}
    for block in plan.passes:
        wb = w[block.m.start:block.m.stop, block.n.start:block.n.stop]
        xb = x[block.n.start:block.n.stop, block.batch.start:block.batch.stop]
        where = (slice(block.m.start, block.m.stop), slice(block.batch.start, block.batch.stop))
        if not plan.split_n:
            work = gemm_program(wb, xb, block.params, relu=relu)
            result = run(work)
            y[where] = collect_matrix(_outputs(work, result), len(block.m), len(block.batch))
        else:
            work = gemm_program(wb, xb, block.params, fp32_out=True)
            result = run(work)
            part = collect_matrix_fp32(_outputs(work, result), len(block.m), len(block.batch))
            key = (block.m.start, block.batch.start)
            sums[key] = part if key not in sums else fp32_add(sums[key], part)
            if block.n.stop == plan.shape[1]:
                y[where] = finish_sums(sums.pop(key), relu)
        runs.append(PassRun(block, result))
    return y, runs


def run_gemv_passes(a, x, plan, run, relu=False):
    """``(y, [PassRun])`` of ``y = A x`` (optionally ReLU) by ``plan``
    (:func:`~wafer_engine.sw.passes.plan.plan_gemv`); ``run`` as for
    :func:`run_gemm_passes`. y is float32, length M."""
    a, x = np.asarray(a, dtype=np.float64), np.asarray(x, dtype=np.float64)
    y = np.zeros(plan.shape[0], dtype=np.float32)
    runs, sums = [], {}
    for block in plan.passes:
        ab = a[block.m.start:block.m.stop, block.n.start:block.n.stop]
        xb = x[block.n.start:block.n.stop]
        where = slice(block.m.start, block.m.stop)
        if not plan.split_n:
            work = gemv_program(ab, xb, block.params, relu=relu)
            result = run(work)
            y[where] = collect_vector(_outputs(work, result), len(block.m))
        else:
            work = gemv_program(ab, xb, block.params, fp32_out=True)
            result = run(work)
            part = collect_vector_fp32(_outputs(work, result), len(block.m))
            key = block.m.start
            sums[key] = part if key not in sums else fp32_add(sums[key], part)
            if block.n.stop == plan.shape[1]:
                y[where] = finish_sums(sums.pop(key), relu)
        runs.append(PassRun(block, result))
    return y, runs
