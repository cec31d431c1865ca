"""Sparse GEMV in the checkerboard pattern.

``gemv_program`` is the gemv-checkerboard pattern: the matrix is resident, split into blocks
(rows of the array own output rows, columns own input features); the non-zeros of ``x`` stream
down each column as ``(fp16 value, local index)`` wavelets and trigger indexed AXPYs; after
that phase a DRAIN control wavelet starts the chain reduction of each row toward the east edge,
whose last PE sends only the non-zero results as ``(fp16 value, output index)``.
"""

import numpy as np

from wafer_engine.rtl.params import ArrayParams
from wafer_engine.rtl.pe import Command
from wafer_engine.rtl.ports import Port
from wafer_engine.rtl.route import Route

from wafer_engine.fabric.program.pe_task import Task
from wafer_engine.fabric.program.program import ArrayProgram, TileProgram
from wafer_engine.fabric.model.wavelet import Wavelet
from wafer_engine.fabric.workloads.common import Workload, check_finite, split, to_fp16_bits

__all__ = ["gemv_program", "check_gemv_operands", "collect_vector_fp32", "X_COLOR", "PARTIAL_COLORS"]

#: Colors of the GEMV mapping: x down the columns, partial sums east (two, alternating, so a
#: tile's incoming and outgoing partial sums never share a color).
X_COLOR, PARTIAL_COLORS = 0, (1, 2)


def check_gemv_operands(a, x):
    """``(A, x)`` as float64 arrays, or ``ValueError`` for shapes that do not multiply and
    non-finite values."""
    a, x = np.asarray(a, dtype=np.float64), np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or x.ndim != 1 or a.shape[1] != x.shape[0]:
        raise ValueError(f"Matrix of shape {a.shape} cannot multiply a vector of shape "
                         f"{x.shape}")
    check_finite("The matrix", a)
    check_finite("The vector", x)
    return a, x


def gemv_program(a, x, params=None, relu=False, fp32_out=False):
    """``y = A x`` (optionally ReLU) on the array ``params`` (an
    :class:`~wafer_engine.rtl.params.ArrayParams`, default the default array); A resident,
    non-zero x streamed. Raises ``ValueError`` for mismatched shapes, non-finite values, and blocks that do
    not fit a PE. With ``fp32_out`` the last column sends every sum unrounded as a dense fp32
    data wavelet (partial sums of input features split over passes; no ReLU then): decode
    with :func:`collect_vector_fp32`."""
    params = ArrayParams() if params is None else params
    if relu and fp32_out:
        raise ValueError("ReLU applies to whole sums; fp32 partial sums leave without it")
    rows, cols = params.rows, params.cols
    a, x = check_gemv_operands(a, x)
    m, n = a.shape
    row_parts, col_parts = split(m, rows), split(n, cols)
    a16, x16 = to_fp16_bits(a), to_fp16_bits(x)
    tiles = {}
    for r, rows_r in enumerate(row_parts):
        for c, cols_c in enumerate(col_parts):
            routes = {}
            below = r + 1 < rows
            here = len(rows_r) > 0
            tx = ({Port.RAMP} if here else set()) | ({Port.S} if below else set())
            if tx:
                routes[X_COLOR] = Route(frozenset({Port.N}), frozenset(tx))
            tasks, mem = {}, {}
            if here:
                p_out = PARTIAL_COLORS[c % 2]
                last = c == cols - 1
                # Block in AXPY layout: column j of the block is contiguous, len = rows here.
                block = a16[np.ix_(list(rows_r), list(cols_c))]
                mem[0] = block.T.reshape(-1).tolist() if block.size else []
                sparse = last and not fp32_out
                output = dict(out_color=p_out, sparse_out=sparse, relu=relu and sparse,
                              index_base=rows_r.start)
                tasks[X_COLOR] = Task("AXPY", len=len(rows_r), rows=max(len(cols_c), 1),
                                      mem_a=0, acc=0, zero_skip=True,
                                      **(output if c == 0 else {}))
                if c > 0:
                    p_in = PARTIAL_COLORS[(c - 1) % 2]
                    tasks[p_in] = Task("REDUCE", len=len(rows_r), acc=0, **output)
                    routes[p_in] = Route(frozenset({Port.W}), frozenset({Port.RAMP}))
                routes[p_out] = Route(frozenset({Port.RAMP}), frozenset({Port.E}))
                if not mem[0]:
                    del mem[0]
            # Accumulators start from +0 whatever an earlier program left in them.
            acc = {0: [0] * len(rows_r)} if here else {}
            tiles[(r, c)] = TileProgram(routes=routes, tasks=tasks, mem=mem, acc=acc)
    stream_phase = {}
    for c, cols_c in enumerate(col_parts):
        stream_phase[(Port.N, c)] = [Wavelet.half(X_COLOR, int(x16[j]), j - cols_c.start)
                                     for j in cols_c if x16[j] & 0x7FFF]
    drain_phase = {(Port.N, 0): [Wavelet(X_COLOR, Command.DRAIN_CLEAR.value, control=1)]}
    inputs = {(Port.N, c): [] for c in range(cols)}
    program = ArrayProgram(params, tiles, inputs)
    outputs = [(Port.E, r) for r in range(rows)]
    return Workload(program, [stream_phase, drain_phase], outputs, m)


def collect_vector_fp32(outputs, m):
    """The fp32 sums (length ``m``, uint32 bit patterns) of a ``fp32_out`` run from the
    east-edge output streams, one per array row in row order: row ``r`` sends its ``|I_r|``
    sums in order, dense. Raises ``ValueError`` if a row sent another number of sums."""
    y = np.zeros(m, dtype=np.uint32)
    for r, (stream, rows_r) in enumerate(zip(outputs, split(m, len(outputs)))):
        if len(stream) != len(rows_r):
            raise ValueError(f"Row {r} sent {len(stream)} partial sums, not {len(rows_r)}")
        y[rows_r.start:rows_r.stop] = [wv.payload for _, wv in stream]
    return y
