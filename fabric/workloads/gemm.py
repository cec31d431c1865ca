"""Weight-streaming GEMM ``Y = W X`` (brief section 4).

``X`` (N x B) is resident: column ``c`` of the array owns the input features
``J_c = split(N, cols)[c]``, row ``r`` owns the batch slice ``B_r = split(B, rows)[r]``, and
PE ``(r, c)`` holds ``X[J_c, B_r]`` in MAC layout (``mem[j_local * L + b]``, ``L = |B_r|``).
The non-zero weights ``w_ij`` with ``j`` in ``J_c`` stream into column ``c`` at the north edge as
``(fp16 w_ij, (i << jbits) | j_local)`` and are multicast down the column, so every weight feeds
the MACs of all rows: ``acc[i * L + b] += w_ij * x[j][b]``. A DRAIN_CLEAR control then starts,
in every row, the chain reduction of the ``M * L`` accumulators toward the east edge, whose
last PE sends only the non-zero results as ``(fp16 y, i * L + b)``.
"""

import numpy as np

from wafer_engine.rtl.pe import Command
from wafer_engine.rtl.params import ArrayParams
from wafer_engine.rtl.ports import Port
from wafer_engine.rtl.route import Route

from wafer_engine.fabric.program.pe_task import Task
from wafer_engine.fabric.program.program import ArrayProgram, TileProgram
from wafer_engine.fabric.model.wavelet import Wavelet
from wafer_engine.fabric.workloads.common import (Workload, check_finite, from_fp16_bits, split,
                                                  to_fp16_bits)

__all__ = ["gemm_program", "collect_matrix", "collect_matrix_fp32", "check_gemm_shape",
           "check_gemm_operands", "check_layout",
           "feature_index_bits",
           "W_COLOR", "PARTIAL_COLORS", "DRAIN_COLOR"]

#: Weights down the columns; partial sums east on two alternating colors, so a tile's incoming
#: and outgoing partial sums never share a color (as in the GEMV mapping).
W_COLOR, PARTIAL_COLORS = 0, (1, 2)
#: The drain command goes down column 0 on the second partial-sum color: column 0 only sends
#: ``PARTIAL_COLORS[0]`` and receives no partial sums, so that color is free there, and the
#: mapping fits a 3-color fabric.
DRAIN_COLOR = PARTIAL_COLORS[1]
_COLORS_NEEDED = 3
#: A drain (task ``len``) and the output index ``i * L + b`` are 16-bit quantities.
_LEN_LIMIT = 0xFFFF
#: The task table's ``jbits`` field is 4 bits.
_JBITS_MAX = 15


def feature_index_bits(features):
    """Index bits for ``features`` local input features (0 for a single one)."""
    return max(features - 1, 0).bit_length()


def _span(what, first, end):
    """``"row 3"`` or ``"rows 2..3"``: the array lines ``first .. end - 1``."""
    return f"{what} {first}" if first == end - 1 else f"{what}s {first}..{end - 1}"


def check_gemm_shape(m, n, batch, params):
    """Raise ``ValueError`` (naming the values) if ``Y = W X`` with W: ``m`` x ``n`` and
    X: ``n`` x ``batch`` cannot be mapped on the array ``params``
    (:class:`~wafer_engine.rtl.params.ArrayParams`); returns its PE's
    :class:`~wafer_engine.rtl.params.PeParams`.

    Everything is checked on the largest block, PE (0, 0): :func:`split` makes the first
    slices the longest.
    """
    p = check_layout(m, n, batch, params)
    length, features = len(split(batch, params.rows)[0]), len(split(n, params.cols)[0])
    need = m * length
    what = f"The problem needs {m} x {length} = {need} accumulators per PE (M x batch slice)"
    if need > _LEN_LIMIT:
        raise ValueError(f"{what}; a drain covers at most {_LEN_LIMIT} (16-bit len and index)")
    if need > p.max_len:
        raise ValueError(f"{what}; the PE has max_len {p.max_len}")
    if need > p.acc_words:
        raise ValueError(f"{what}; the PE has acc_words {p.acc_words}")
    if features * length > p.mem_words:
        raise ValueError(f"The X block per PE needs {features} x {length} = "
                         f"{features * length} words of mem (features x batch slice); the PE "
                         f"has mem_words {p.mem_words}")
    return p


def check_layout(m, n, batch, params):
    """Raise ``ValueError`` (naming the values) if the layout shared by the GEMM and the weight
    gradient (columns own input features, rows batch slices, index ``(i << jbits) | j``)
    cannot hold an ``m`` x ``n`` layer over ``batch`` samples on the array ``params``: too few
    colors, an array line that would own nothing, an index that does not fit 16 bits. Returns
    the PE's :class:`~wafer_engine.rtl.params.PeParams`."""
    rows, cols, p = params.rows, params.cols, params.pe
    if p.colors < _COLORS_NEEDED:
        raise ValueError(f"The GEMM mapping needs {_COLORS_NEEDED} colors (weights and two "
                         f"partial-sum colors); the PE has {p.colors}")
    if n < cols:
        raise ValueError(f"X has {n} input features for {cols} array columns: "
                         f"{_span('column', n, cols)} would own none; use at most {n} columns")
    if batch < rows:
        raise ValueError(f"X has {batch} batch columns for {rows} array rows: "
                         f"{_span('row', batch, rows)} would own none; use at most {batch} rows")
    features = len(split(n, cols)[0])
    jbits = feature_index_bits(features)
    if jbits > _JBITS_MAX:
        raise ValueError(f"{features} input features per column need jbits {jbits}; the task "
                         f"table's jbits field allows at most {_JBITS_MAX} "
                         f"({1 << _JBITS_MAX} features per column)")
    if m > 1 << (16 - jbits):
        raise ValueError(f"Weight index (i << {jbits}) | j does not fit 16 bits: {features} "
                         f"input features per column take {jbits} bits, leaving room for "
                         f"{1 << (16 - jbits)} output rows, not M = {m}")
    return p


def check_gemm_operands(w, x, params):
    """``(W, X)`` as float64 arrays, or ``ValueError`` for mismatched or empty shapes,
    non-finite values and problems that do not fit (:func:`check_gemm_shape`)."""
    w, x = np.asarray(w, dtype=np.float64), np.asarray(x, dtype=np.float64)
    if w.ndim != 2 or x.ndim != 2 or w.shape[1] != x.shape[0]:
        raise ValueError(f"Matrix W of shape {w.shape} cannot multiply X of shape {x.shape}")
    if w.size == 0 or x.size == 0:
        raise ValueError(f"W and X must not be empty, not shapes {w.shape} and {x.shape}")
    check_finite("The matrix W", w)
    check_finite("The matrix X", x)
    check_gemm_shape(w.shape[0], w.shape[1], x.shape[1], params)
    return w, x


def gemm_program(w, x, params=None, relu=False, fp32_out=False):
    """``Y = W X`` (optionally ReLU) on the array ``params`` (an
    :class:`~wafer_engine.rtl.params.ArrayParams`, default the default array): X resident, the
    non-zero weights streamed. Raises ``ValueError`` for mismatched or empty shapes, non-finite
    values, and problems that do not fit (see :func:`check_gemm_shape`).

    The workload's ``length`` is ``M * B``, the number of entries of Y; decode the east-edge
    outputs with :func:`collect_matrix`. With ``fp32_out`` the last column sends every sum
    unrounded, as dense fp32 data wavelets (the partial sums of a problem whose input features
    are split over several passes, added on the host); decode them with
    :func:`collect_matrix_fp32`. ReLU, a function of the whole sum, cannot apply then.
    """
    params = ArrayParams() if params is None else params
    if relu and fp32_out:
        raise ValueError("ReLU applies to whole sums; fp32 partial sums leave without it")
    rows, cols = params.rows, params.cols
    w, x = check_gemm_operands(w, x, params)
    (m, n), batch = w.shape, x.shape[1]
    row_parts, col_parts = split(batch, rows), split(n, cols)
    w16, x16 = to_fp16_bits(w), to_fp16_bits(x)

    tiles = {}
    for r, batch_r in enumerate(row_parts):
        length = len(batch_r)
        drain_len = m * length
        below = r + 1 < rows
        down = frozenset({Port.RAMP, Port.S} if below else {Port.RAMP})
        for c, feats_c in enumerate(col_parts):
            last = c == cols - 1
            p_out = PARTIAL_COLORS[c % 2]
            jbits = feature_index_bits(len(feats_c))
            routes = {W_COLOR: Route(frozenset({Port.N}), down),
                      p_out: Route(frozenset({Port.RAMP}), frozenset({Port.E}))}
            tasks = {W_COLOR: Task("MAC", len=length, mem_a=0, acc=0, zero_skip=True,
                                   jbits=jbits, rows=m, cols=len(feats_c))}
            # The chain's output stage: dense fp32 partial sums inside the row, sparse fp16
            # (value, i * L + b) with the optional ReLU out of the last column.
            sparse = last and not fp32_out
            output = dict(out_color=p_out, sparse_out=sparse, relu=relu and sparse,
                          index_base=0)
            if c == 0:
                # Only the drain command arrives here; REDUCE's acc footprint is the drained
                # range, so the program checks it like the MAC's.
                tasks[DRAIN_COLOR] = Task("REDUCE", len=drain_len, acc=0, **output)
                routes[DRAIN_COLOR] = Route(frozenset({Port.N}), down)
            else:
                p_in = PARTIAL_COLORS[(c - 1) % 2]
                tasks[p_in] = Task("REDUCE", len=drain_len, acc=0, **output)
                routes[p_in] = Route(frozenset({Port.W}), frozenset({Port.RAMP}))
            block = x16[np.ix_(list(feats_c), list(batch_r))]
            tiles[(r, c)] = TileProgram(
                routes=routes, tasks=tasks, mem={0: block.reshape(-1).tolist()},
                # Accumulators start from +0 whatever an earlier program left in them (the
                # drain clears column 0 only; REDUCE leaves its accumulators as they are).
                acc={0: [0] * drain_len})

    # Column-major order (j outer, i inner): consecutive weights of a column hit different
    # accumulator rows, so short batch slices (L < 5) do not stall on the acc hazard.
    stream_phase = {}
    for c, feats_c in enumerate(col_parts):
        jbits = feature_index_bits(len(feats_c))
        stream_phase[(Port.N, c)] = [
            Wavelet.half(W_COLOR, int(w16[i, j]), (i << jbits) | (j - feats_c.start))
            for j in feats_c for i in range(m) if w16[i, j] & 0x7FFF]
    drain_phase = {(Port.N, 0): [Wavelet(DRAIN_COLOR, Command.DRAIN_CLEAR.value, control=1)]}
    inputs = {(Port.N, c): [] for c in range(cols)}
    program = ArrayProgram(params, tiles, inputs)
    outputs = [(Port.E, r) for r in range(rows)]
    return Workload(program, [stream_phase, drain_phase], outputs, m * batch)


def collect_matrix(outputs, m, batch):
    """Y (``m`` x ``batch``, float32; absent entries +0) from the east-edge output streams,
    one per array row in row order, each a list of ``(cycle, Wavelet)`` as in
    ``ArrayModel.outputs``. Row ``r``'s index ``i * L + b`` is ``Y[i, B_r.start + b]``.

    Raises ``ValueError`` for an index outside the row's ``m * L`` results or a result sent
    twice.
    """
    y = np.zeros((m, batch), dtype=np.float32)
    seen = np.zeros((m, batch), dtype=bool)
    for r, (stream, batch_r) in enumerate(zip(outputs, split(batch, len(outputs)))):
        for _, wv in stream:
            if wv.index >= m * len(batch_r):
                raise ValueError(f"Row {r} sent index {wv.index}, beyond its "
                                 f"{m} x {len(batch_r)} results")
            i, b = divmod(wv.index, len(batch_r))
            if seen[i, batch_r.start + b]:
                raise ValueError(f"Row {r} sent index {wv.index} twice")
            seen[i, batch_r.start + b] = True
            y[i, batch_r.start + b] = from_fp16_bits([wv.value])[0]
    return y


def collect_matrix_fp32(outputs, m, batch):
    """The fp32 sums (``m`` x ``batch``, as uint32 bit patterns) of a ``fp32_out`` run from
    the east-edge output streams, one per array row in row order: row ``r`` sends all
    ``m * L_r`` sums in accumulator order ``i * L_r + b``, dense.

    Raises ``ValueError`` if a row sent another number of sums.
    """
    y = np.zeros((m, batch), dtype=np.uint32)
    for r, (stream, batch_r) in enumerate(zip(outputs, split(batch, len(outputs)))):
        need = m * len(batch_r)
        if len(stream) != need:
            raise ValueError(f"Row {r} sent {len(stream)} partial sums, not {need}")
        if need:
            y[:, batch_r.start:batch_r.stop] = np.array(
                [wv.payload for _, wv in stream], dtype=np.uint32).reshape(m, len(batch_r))
    return y
