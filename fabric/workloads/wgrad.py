"""Weight gradients ``dW[i, j] = sum_b dY[i, b] X[j, b]`` at the mask's positions only.

The layout is the forward GEMM's (:mod:`.gemm`): column ``c`` owns the input features ``J_c``,
row ``r`` the batch slice ``B_r``. PE ``(r, c)`` holds ``X[J_c, B_r]`` at ``mem[0]`` (MAC
layout, ``mem[j_local * L + b]``) and ``dY[:, B_r]`` right after it (``mem[xw + i * L + b]``).

Every column runs at once. Column ``c``'s positions (stream order: ``i`` outer, ``j`` inner)
are cut into the same number of rounds for every column (:func:`grad_rounds`), column ``c``'s
rounds ``K_c`` positions long. A round is two phases:

1. one index wavelet ``(slot k, (i << jbits) | j_local)`` per position enters column ``c`` at
   the north edge and is multicast down the column; each PE runs GRAD_ACC on it: the fp32 dot
   product over its batch slice, summed strictly in ``b`` order from +0, into ``acc[k]``;
2. a DRAIN into row 0 of each column starts the column's chain toward the south edge: row 0
   sends ``acc[0 .. K_c)``, every row below adds its own slot to each (REDUCE), and the last
   row sends the ``K_c`` sums out of the south edge, in slot order. They are the rows'
   partial sums added in row order, ``s = p_0``, then ``s = fp32_add(s, p_r)``
   (:func:`reduce_partials`): the same bits as adding them on the host.

A round's positions fill slots ``0 .. hi - lo``; a column's round 0 is always full (``K_c``
is its positions over the rounds, rounded up), so the slots a later, shorter round drains
without using hold an earlier round's sums of this program, never what another program
left: the outputs are the same on every backend.

The phases keep a round's drain behind its GRAD_ACCs (the two travel on different colors,
which the routers may reorder) and the next round's GRAD_ACCs behind the drain that reads
their slots. A round holds at most :func:`grad_slots` positions (a REDUCE's ``len``, and the
accumulators), so a column's drains cost ``K_c`` cycles plus the chain's latency per round.

Positions whose ``dY[i, :]`` is zero over the whole batch are not sent: every product is a
zero, the sum is +0, and :func:`collect_gradients` leaves +0 there.
"""

import math

import numpy as np

from wafer_engine.rtl.params import ArrayParams
from wafer_engine.rtl.pe import Command
from wafer_engine.rtl.ports import Port
from wafer_engine.rtl.route import Route

from wafer_engine.fabric.model.fp_model import fp32_add
from wafer_engine.fabric.program.pe_task import Task
from wafer_engine.fabric.program.program import ArrayProgram, TileProgram
from wafer_engine.fabric.model.wavelet import Wavelet
from wafer_engine.fabric.workloads.common import Workload, check_finite, split, to_fp16_bits
from wafer_engine.fabric.workloads.gemm import feature_index_bits, check_layout

__all__ = ["wgrad_program", "check_wgrad_operands", "check_wgrad_shape", "grad_positions",
           "grad_slots", "grad_rounds", "grad_round_bounds", "grad_columns", "grad_drains",
           "collect_gradients",
           "reduce_partials", "G_COLOR",
           "CHAIN_COLORS"]

#: Index wavelets down the columns; the chain's partial sums down the columns on two
#: alternating colors: row ``r`` takes ``CHAIN_COLORS[r % 2]`` (row 0: the drain command)
#: and sends ``CHAIN_COLORS[(r + 1) % 2]``, so a tile's incoming and outgoing sums never
#: share a color.
G_COLOR, CHAIN_COLORS = 0, (1, 2)


def grad_positions(mask, dy16):
    """The ``(i, j)`` positions to compute, in stream order (``i`` outer, ``j`` inner): the
    mask's positions whose ``dY`` row is not all zero."""
    live = np.any(dy16 & 0x7FFF, axis=1)
    return np.argwhere(mask & live[:, None])


def grad_slots(pe):
    """Positions a column computes per round on PEs ``pe``: one accumulator each, drained by
    one REDUCE of at most ``max_len``."""
    return min(pe.max_len, pe.acc_words)


def grad_rounds(counts, slots):
    """``(rounds, lengths)`` for columns of ``counts`` positions, at most ``slots`` per round:
    as few rounds as the busiest column needs, every column's positions spread evenly over
    them (``lengths[c]`` per round, the last rounds shorter or empty)."""
    rounds = max((math.ceil(n / slots) for n in counts), default=0)
    return rounds, [math.ceil(n / rounds) if rounds else 0 for n in counts]


def grad_round_bounds(counts, lengths, rounds):
    """``(lo, hi)``, integer arrays of shape (``rounds``, columns): column ``c`` computes its
    positions ``lo[q, c] .. hi[q, c] - 1`` in round ``q`` (none when they are equal), for
    columns of ``counts`` positions in rounds of ``lengths`` (:func:`grad_rounds`)."""
    counts, lengths = np.asarray(counts, dtype=int), np.asarray(lengths, dtype=int)
    q = np.arange(rounds)[:, None]
    return np.minimum(q * lengths, counts), np.minimum((q + 1) * lengths, counts)


def check_wgrad_operands(mask, dy, x, params):
    """``(mask, dY, X)`` as bool / float64 arrays, or ``ValueError`` for mismatched shapes,
    non-finite values and problems that do not fit (:func:`check_wgrad_shape`)."""
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
    ``batch`` samples cannot be mapped on the array ``params``: the layout's limits
    (:func:`~.gemm.check_layout`) and the X and dY blocks in mem. (The slots bound a round, not
    the layer.) Returns the PE's :class:`~wafer_engine.rtl.params.PeParams`."""
    p = check_layout(m, n, batch, params)
    length, features = len(split(batch, params.rows)[0]), len(split(n, params.cols)[0])
    if (features + m) * length > p.mem_words:
        raise ValueError(f"The X and dY blocks per PE need ({features} + {m}) x {length} = "
                         f"{(features + m) * length} words of mem; the PE has mem_words "
                         f"{p.mem_words}")
    return p


def _column_positions(positions, col_parts):
    """Each column's positions, stream order kept."""
    return [positions[(positions[:, 1] >= f.start) & (positions[:, 1] < f.stop)]
            for f in col_parts]


def grad_columns(mask, dy16, params):
    """``(positions, rounds, lengths)`` of the gradient of ``mask`` given ``dy16`` (fp16 bits)
    on the array ``params``: each column's positions in stream order, and the rounds and
    per-column round lengths of :func:`grad_rounds`."""
    mine = _column_positions(grad_positions(mask, dy16), split(mask.shape[1], params.cols))
    rounds, lengths = grad_rounds([len(p) for p in mine], grad_slots(params.pe))
    return mine, rounds, lengths


def grad_drains(counts, lengths, rounds):
    """Drain commands of each column: one per round in which it has positions."""
    lo, hi = grad_round_bounds(counts, lengths, rounds)
    return [int(d) for d in (hi > lo).sum(axis=0)]


def wgrad_program(mask, dy, x, params=None):
    """The weight gradient of ``Y = W X`` on the array ``params`` (an
    :class:`~wafer_engine.rtl.params.ArrayParams`, default the default array) for the positions of
    ``mask`` (M x N, bool), given ``dy`` (M x B) and ``x`` (N x B), both rounded to fp16.

    Returns a :class:`Workload` of two phases per round whose south-edge outputs
    :func:`collect_gradients` decodes. Raises ``ValueError`` for mismatched shapes,
    non-finite values and problems that do not fit (:func:`check_wgrad_shape`).
    """
    params = ArrayParams() if params is None else params
    rows, cols = params.rows, params.cols
    mask, dy, x = check_wgrad_operands(mask, dy, x, params)
    (m, n), batch = mask.shape, x.shape[1]
    row_parts, col_parts = split(batch, rows), split(n, cols)
    dy16, x16 = to_fp16_bits(dy), to_fp16_bits(x)
    mine, rounds, lengths = grad_columns(mask, dy16, params)

    tiles = {}
    for r, batch_r in enumerate(row_parts):
        below = r + 1 < rows
        down = frozenset({Port.RAMP, Port.S} if below else {Port.RAMP})
        chain_in, chain_out = CHAIN_COLORS[r % 2], CHAIN_COLORS[(r + 1) % 2]
        for c, feats_c in enumerate(col_parts):
            x_words = len(feats_c) * len(batch_r)
            slots = lengths[c]
            routes, tasks = {}, {}
            if slots:       # (a column without positions receives nothing)
                routes = {G_COLOR: Route(frozenset({Port.N}), down),
                          chain_in: Route(frozenset({Port.N}), frozenset({Port.RAMP})),
                          chain_out: Route(frozenset({Port.RAMP}), frozenset({Port.S}))}
                tasks = {G_COLOR: Task("GRAD_ACC", len=len(batch_r), mem_a=0, mem_b=x_words,
                                       jbits=feature_index_bits(len(feats_c)), rows=m,
                                       cols=len(feats_c), slots=slots),
                         # Row 0 drains its slots on the command; the rows below add theirs.
                         chain_in: Task("REDUCE", len=slots, acc=0, out_color=chain_out)}
            block = np.concatenate([x16[np.ix_(list(feats_c), list(batch_r))].reshape(-1),
                                    dy16[:, list(batch_r)].reshape(-1)])
            tiles[(r, c)] = TileProgram(routes=routes, tasks=tasks, mem={0: block.tolist()})
    phases = []
    round_lo, round_hi = grad_round_bounds([len(p) for p in mine], lengths, rounds)
    for q in range(rounds):
        stream, drain = {}, {}
        for c, (feats_c, pos) in enumerate(zip(col_parts, mine)):
            jbits = feature_index_bits(len(feats_c))
            lo, hi = round_lo[q, c], round_hi[q, c]
            stream[(Port.N, c)] = [Wavelet.half(G_COLOR, k, (int(i) << jbits)
                                                | (int(j) - feats_c.start))
                                   for k, (i, j) in enumerate(pos[lo:hi])]
            if hi > lo:
                drain[(Port.N, c)] = [Wavelet(CHAIN_COLORS[0], Command.DRAIN.value, control=1)]
        phases += [stream, drain]
    if not phases:
        phases = [{(Port.N, c): [] for c in range(cols)}]
    inputs = {(Port.N, c): [] for c in range(cols)}
    program = ArrayProgram(params, tiles, inputs)
    outputs = [(Port.S, c) for c in range(cols)]
    return Workload(program, phases, outputs, m * n)


def reduce_partials(partials):
    """fp32 bit patterns ``(R, K)`` -> ``(K,)``: the rows' partial sums added in row order,
    ``s = p_0``, then ``s = fp32_add(s, p_r)`` (RNE, DAZ/FTZ as the PE's adder)."""
    partials = np.asarray(partials, dtype=np.uint32)
    s = partials[0]
    for p in partials[1:]:
        s = fp32_add(s, p)
    return s


def collect_gradients(outputs, mask, dy, params):
    """``dW`` (M x N, float32; +0 off the computed positions) from the south-edge streams of a
    :func:`wgrad_program` run on the array ``params``, one per array column, each
    ``[(cycle, Wavelet)]``: per round with positions, ``K_c`` sums in slot order, of which
    the round's positions are the first.

    Raises ``ValueError`` if a column sent another number of sums than its rounds drain."""
    mask = np.asarray(mask, dtype=bool)
    mine, rounds, lengths = grad_columns(mask, to_fp16_bits(dy), params)
    dw = np.zeros(mask.shape, dtype=np.uint32)
    round_lo, round_hi = grad_round_bounds([len(p) for p in mine], lengths, rounds)
    for c, (stream, pos) in enumerate(zip(outputs, mine)):
        slices = [(lo, hi) for lo, hi in zip(round_lo[:, c], round_hi[:, c]) if hi > lo]
        if len(stream) != lengths[c] * len(slices):
            raise ValueError(f"Column {c} sent {len(stream)} sums; its {len(slices)} rounds "
                             f"of {lengths[c]} slots drain {lengths[c] * len(slices)}")
        sums = np.array([w.payload for _, w in stream], dtype=np.uint32)
        for q, (lo, hi) in enumerate(slices):
            got = sums[q * lengths[c]:q * lengths[c] + hi - lo]
            dw[pos[lo:hi, 0], pos[lo:hi, 1]] = got
    return dw.view(np.float32)
