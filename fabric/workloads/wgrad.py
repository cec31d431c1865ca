"""Weight gradients ``dW[i, j] = sum_b dY[i, b] X[j, b]`` at the mask's positions only.

The layout is the forward GEMM's (:mod:`.gemm`): column ``c`` owns the input features ``J_c``,
row ``r`` the batch slice ``B_r``. PE ``(r, c)`` holds ``X[J_c, B_r]`` at ``mem[0]`` (MAC
layout, ``mem[j_local * L + b]``) and ``dY[:, B_r]`` right after it (``mem[xw + i * L + b]``).
One index wavelet ``(0, (i << jbits) | j_local)`` per mask position ``(i, j)`` enters column
``c`` at the north edge and is multicast down the column; each PE runs GRAD on it: the fp32 dot
product over its batch slice, summed strictly in ``b`` order from +0, sent east as plain fp32
data. The columns take turns (one phase per column), so row ``r``'s east edge carries the
partial sums of one column at a time, in stream order, and needs no index: the host adds the
``R`` partial sums of a position in row order (:func:`reduce_partials`), the same reduction
whatever backend ran the array.

Positions whose ``dY[i, :]`` is zero over the whole batch are not sent: every product is a
zero, the sum is +0, and :func:`collect_gradients` leaves +0 there.
"""

import numpy as np

from wafer_engine.rtl.params import ArrayParams
from wafer_engine.rtl.ports import Port
from wafer_engine.rtl.route import Route

from wafer_engine.fabric.model.fp_model import fp32_add
from wafer_engine.fabric.program.pe_task import Task
from wafer_engine.fabric.program.program import ArrayProgram, TileProgram
from wafer_engine.fabric.model.wavelet import Wavelet
from wafer_engine.fabric.workloads.common import Workload, check_finite, split, to_fp16_bits
from wafer_engine.fabric.workloads.gemm import feature_index_bits, check_gemm_shape

__all__ = ["wgrad_program", "check_wgrad_operands", "check_wgrad_shape", "grad_positions",
           "collect_gradients", "reduce_partials", "G_COLOR", "OUT_COLOR"]

#: Index wavelets down the columns; the partial sums east along the rows.
G_COLOR, OUT_COLOR = 0, 1


def grad_positions(mask, dy16):
    """The ``(i, j)`` positions to compute, per array column's feature range, in stream order
    (``i`` outer, ``j`` inner): the mask's positions whose ``dY`` row is not all zero."""
    live = np.any(dy16 & 0x7FFF, axis=1)
    return np.argwhere(mask & live[:, None])


def check_wgrad_operands(mask, dy, x, params):
    """``(mask, dY, X)`` as bool / float64 arrays, or ``ValueError`` for mismatched shapes,
    non-finite values and problems that do not fit (the GEMM's limits plus the X and dY
    blocks in mem)."""
    mask = np.asarray(mask, dtype=bool)
    dy, x = np.asarray(dy, dtype=np.float64), np.asarray(x, dtype=np.float64)
    if mask.ndim != 2 or dy.ndim != 2 or x.ndim != 2 or dy.shape[0] != mask.shape[0] \
            or x.shape[0] != mask.shape[1] or dy.shape[1] != x.shape[1]:
        raise ValueError(f"Gradient shapes do not match: mask {mask.shape}, dY {dy.shape}, "
                         f"X {x.shape} (need M x N, M x B, N x B)")
    check_finite("The gradient dY", dy)
    check_finite("The matrix X", x)
    check_wgrad_shape(*mask.shape, x.shape[1], params)
    return mask, dy, x


def check_wgrad_shape(m, n, batch, params):
    """Raise ``ValueError`` (naming the values) if the gradient of an ``m`` x ``n`` layer over
    ``batch`` samples cannot be mapped on the array ``params``: the GEMM's limits
    (:func:`~.gemm.check_gemm_shape`) plus the X and dY blocks in mem. Returns the PE's
    :class:`~wafer_engine.rtl.params.PeParams`."""
    p = check_gemm_shape(m, n, batch, params)
    length, features = len(split(batch, params.rows)[0]), len(split(n, params.cols)[0])
    if (features + m) * length > p.mem_words:
        raise ValueError(f"The X and dY blocks per PE need ({features} + {m}) x {length} = "
                         f"{(features + m) * length} words of mem; the PE has mem_words "
                         f"{p.mem_words}")
    return p


def wgrad_program(mask, dy, x, params=None):
    """The weight gradient of ``Y = W X`` on the array ``params`` (an
    :class:`~wafer_engine.rtl.params.ArrayParams`, default the default array) for the positions of
    ``mask`` (M x N, bool), given ``dy`` (M x B) and ``x`` (N x B), both rounded to fp16.

    Returns a :class:`Workload` with one phase per array column; decode its east-edge outputs
    with :func:`collect_gradients`. Raises ``ValueError`` for mismatched shapes, non-finite
    values and problems that do not fit (the GEMM's limits plus the dY block in mem).
    """
    params = ArrayParams() if params is None else params
    rows, cols = params.rows, params.cols
    mask, dy, x = check_wgrad_operands(mask, dy, x, params)
    (m, n), batch = mask.shape, x.shape[1]
    row_parts, col_parts = split(batch, rows), split(n, cols)
    dy16, x16 = to_fp16_bits(dy), to_fp16_bits(x)

    tiles = {}
    for r, batch_r in enumerate(row_parts):
        below = r + 1 < rows
        down = frozenset({Port.RAMP, Port.S} if below else {Port.RAMP})
        for c, feats_c in enumerate(col_parts):
            x_words = len(feats_c) * len(batch_r)
            east_in = frozenset({Port.RAMP, Port.W} if c > 0 else {Port.RAMP})
            routes = {G_COLOR: Route(frozenset({Port.N}), down),
                      OUT_COLOR: Route(east_in, frozenset({Port.E}))}
            tasks = {G_COLOR: Task("GRAD", len=len(batch_r), mem_a=0, mem_b=x_words,
                                   out_color=OUT_COLOR, jbits=feature_index_bits(len(feats_c)),
                                   rows=m, cols=len(feats_c))}
            block = np.concatenate([x16[np.ix_(list(feats_c), list(batch_r))].reshape(-1),
                                    dy16[:, list(batch_r)].reshape(-1)])
            tiles[(r, c)] = TileProgram(routes=routes, tasks=tasks,
                                        mem={0: block.tolist()})
    positions = grad_positions(mask, dy16)
    phases = []
    for c, feats_c in enumerate(col_parts):
        jbits = feature_index_bits(len(feats_c))
        mine = positions[(positions[:, 1] >= feats_c.start) & (positions[:, 1] < feats_c.stop)]
        phases.append({(Port.N, c): [Wavelet.half(G_COLOR, 0, (int(i) << jbits)
                                                  | (int(j) - feats_c.start))
                                     for i, j in mine]})
    inputs = {(Port.N, c): [] for c in range(cols)}
    program = ArrayProgram(params, tiles, inputs)
    outputs = [(Port.E, r) for r in range(rows)]
    return Workload(program, phases, outputs, m * n)


def reduce_partials(partials):
    """fp32 bit patterns ``(R, K)`` -> ``(K,)``: the rows' partial sums added in row order,
    ``s = p_0``, then ``s = fp32_add(s, p_r)`` (RNE, DAZ/FTZ as the PE's adder)."""
    partials = np.asarray(partials, dtype=np.uint32)
    s = partials[0]
    for p in partials[1:]:
        s = fp32_add(s, p)
    return s


def collect_gradients(outputs, mask, dy, cols):
    """``dW`` (M x N, float32; +0 off the computed positions) from the east-edge streams of a
    :func:`wgrad_program` run, one per array row, each ``[(cycle, Wavelet)]``.

    Raises ``ValueError`` if a row sent a different number of partial sums than positions were
    streamed."""
    mask = np.asarray(mask, dtype=bool)
    positions = grad_positions(mask, to_fp16_bits(dy))
    # Phases run column by column, so each row's stream is the positions sorted by column
    # block, stream order (i outer, j inner) inside each block.
    order = np.concatenate([np.flatnonzero((positions[:, 1] >= f.start)
                                           & (positions[:, 1] < f.stop))
                            for f in split(mask.shape[1], cols)]).astype(int)
    partials = []
    for r, stream in enumerate(outputs):
        if len(stream) != len(positions):
            raise ValueError(f"Row {r} sent {len(stream)} partial sums for {len(positions)} "
                             f"gradient positions")
        partials.append([w.payload for _, w in stream])
    dw = np.zeros(mask.shape, dtype=np.uint32)
    if len(positions):
        sums = reduce_partials(partials)
        ordered = positions[order]
        dw[ordered[:, 0], ordered[:, 1]] = sums
    return dw.view(np.float32)
