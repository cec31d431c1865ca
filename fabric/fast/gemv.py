"""Fast functional model of the sparse GEMV mapping, with an analytical cycle estimate.

The GEMV counterpart of :func:`wafer_engine.fabric.fast.gemm.gemm_fast`: the same bit patterns as
:func:`~wafer_engine.fabric.workloads.gemv.gemv_program` on the cycle-exact
:class:`~wafer_engine.fabric.model.array_model.ArrayModel`, computed with whole-array numpy operations that perform
every fp32 addition of the fabric in the fabric's order:

* AXPY: PE ``(r, c)``'s accumulator ``k`` (output row ``i = I_r.start + k``) takes the products
  of the non-zero ``x_j``, ``j`` in ``J_c`` rising (the order they stream down column ``c``), as
  ``acc = fp32_add(fp16_mul(x_j, A[i, j]), acc)`` from +0;
* chain reduction: column 0 drains its accumulators unchanged, column ``c > 0`` adds
  ``s = fp32_add(incoming, acc_c)``; the last column applies the optional ReLU, converts to
  fp16 and drops zeros (so absent results, and fp16 -0, read as +0).

``tests/test_fast_gemv.py`` checks the values bit for bit and the cycles against the
cycle-exact model. The cycles are an estimate (see :func:`gemv_cycles`), not a count.
"""

import numpy as np

from wafer_engine.rtl.params import ArrayParams
from wafer_engine.rtl.router import HOP_CYCLES

from wafer_engine.fabric.fast.gemm import (ACC_SPACING, PE_LATENCY, FabricStats,
                                           chain_reduction_cycles)
from wafer_engine.fabric.model.fp_model import fp16_mul, fp32_add, fp32_relu, fp32_to_fp16
from wafer_engine.fabric.workloads.common import split, to_fp16_bits
from wafer_engine.fabric.workloads.gemv import check_gemv_operands

__all__ = ["gemv_fast", "gemv_cycles"]


def gemv_cycles(nonzero_per_column, m, rows, last_sent=None):
    """Estimated cycles of :func:`~wafer_engine.fabric.workloads.gemv.gemv_program` from the first wavelet
    in to the last result out.

    ``nonzero_per_column``: non-zero ``x_j`` streamed into each array column (0 or more);
    ``m``: output rows (>= 1); ``rows``: array rows. Row 0 owns the most output rows,
    ``L = ceil(m / rows)``, so its PEs set the pace of the stream phase: each ``x_j`` costs
    ``max(L, 4)`` cycles there (every AXPY of a PE updates the same ``L`` accumulators), and the
    busiest column ends last, ``rows`` hops after its last wavelet entered, behind the PE's
    16-cycle fill and drain. The reduction then takes ``L`` results per row through one chain
    step per column, behind the drain command's hop down each row.

    ``last_sent``: per array row, the local index (``0 .. |I_r| - 1``) of its last non-zero
    result, or -1 if it sends none; the last column sends one result per cycle, so the run
    ends with the row whose last result leaves latest. ``None``: every result is sent.
    """
    length = len(split(m, rows)[0])
    cols = len(nonzero_per_column)
    busiest = max(nonzero_per_column)
    # The last x_j only issues its L elements: the spacing is a wait before the next one.
    stream = ((busiest - 1) * max(length, ACC_SPACING) + length + PE_LATENCY + HOP_CYCLES * rows
              if busiest else 0)
    return stream + chain_reduction_cycles([len(part) for part in split(m, rows)], cols,
                                           last_sent)


def gemv_fast(a, x, params=None, relu=False):
    """``(y, stats)`` for ``y = A x`` (optionally ReLU) exactly as
    :func:`~wafer_engine.fabric.workloads.gemv.gemv_program` computes it on the array ``params`` (an
    :class:`~wafer_engine.rtl.params.ArrayParams`, default the default array):
    ``y`` float32 (length M, the fp16 results; zeros +0), ``stats`` a
    :class:`~wafer_engine.fabric.fast.gemm.FabricStats` whose ``cycles`` come from :func:`gemv_cycles`.

    A: M x N, x: N (any finite values within fp16 range; they are rounded to fp16). Raises
    ``ValueError``, naming the values, for the shapes and values ``gemv_program`` rejects and
    for blocks that do not fit the array's PE (``mem_words``, ``max_len``, ``acc_words``).
    """
    params = ArrayParams() if params is None else params
    rows, cols = params.rows, params.cols
    a, x = check_gemv_operands(a, x)
    m, n = a.shape
    _check_fit(m, n, params)
    a16, x16 = to_fp16_bits(a), to_fp16_bits(x)
    parts = split(n, cols)
    # Per column, the streamed features in stream order (j rising, zeros never sent).
    streams = [np.array([j for j in part if x16[j] & 0x7FFF], dtype=np.int64) for part in parts]
    nonzero = [len(s) for s in streams]
    # acc[c] holds column c's accumulators for every output row (each array row owns a
    # contiguous slice of them). Step t applies the t-th streamed x_j of every column at once:
    # columns are independent, and within one the order is the stream order.
    acc = np.zeros((cols, m), dtype=np.uint32)
    for t in range(max(nonzero, default=0)):
        live = np.array([c for c in range(cols) if nonzero[c] > t], dtype=np.int64)
        j = np.array([streams[c][t] for c in live], dtype=np.int64)
        product = fp16_mul(np.broadcast_to(x16[j][:, None], (len(j), m)), a16[:, j].T)
        acc[live] = fp32_add(product, acc[live])
    s = acc[0]
    for c in range(1, cols):
        s = fp32_add(s, acc[c])
    if relu:
        s = fp32_relu(s)
    y16 = fp32_to_fp16(s)
    y16 = np.where(y16 & 0x7FFF, y16, 0).astype(np.uint16)
    last_sent = [max(np.flatnonzero(y16[part.start:part.stop]), default=-1)
                 for part in split(m, rows)]
    stats = FabricStats(cycles=gemv_cycles(nonzero, m, rows, [int(k) for k in last_sent]),
                        fmac_ops=sum(nonzero) * m,
                        zero_skipped=0, wavelets=sum(nonzero) + 1,
                        wavelets_out=int(np.count_nonzero(y16)))
    return y16.view(np.float16).astype(np.float32), stats


def _check_fit(m, n, params):
    """The PE limits ``gemv_program``'s ``ArrayProgram`` applies, on PE (0, 0) (the largest
    block: :func:`split` makes the first slices the longest)."""
    rows, cols, p = params.rows, params.cols, params.pe
    # x on color 0, partial sums on 1 and, from the second column on, 2 (docs/workloads.md).
    need = 3 if cols > 1 else 2
    if p.colors < need:
        raise ValueError(f"The GEMV mapping on {cols} array columns needs {need} colors; the "
                         f"PE has {p.colors}")
    length, features = len(split(m, rows)[0]), len(split(n, cols)[0])
    if length > p.max_len:
        raise ValueError(f"The GEMV needs {length} accumulators per PE (output rows per array "
                         f"row); the PE has max_len {p.max_len}")
    if length > p.acc_words:
        raise ValueError(f"The GEMV needs {length} accumulators per PE (output rows per array "
                         f"row); the PE has acc_words {p.acc_words}")
    if length * features > p.mem_words:
        raise ValueError(f"The A block per PE needs {length} x {features} = "
                         f"{length * features} words of mem; the PE has mem_words "
                         f"{p.mem_words}")
