"""Fast functional model of the GEMM and weight-gradient mappings, with analytical cycle counts.

The cycle-exact :class:`~wafer_engine.fabric.model.array_model.ArrayModel` steps every router and PE each cycle
in Python: right for checking the RTL, far too slow for training or for 64 x 64 arrays. This
model computes the same bit patterns with whole-array numpy operations, performing every fp32
addition of the fabric in the fabric's order:

* GEMM (:mod:`.workloads.gemm`): the accumulator ``(i, b)`` of column ``c`` takes the products
  of the non-zero weights ``w_ij``, ``j`` in ``J_c`` rising, as ``acc = fp32_add(product,
  acc)`` from +0; the row's chain then adds column by column, ``s = fp32_add(s, acc_c)``, and
  the last column applies the optional ReLU, converts to fp16 and drops zeros.
* Weight gradient (:mod:`.workloads.wgrad`): the GRAD_ACC dot products over each batch slice,
  in ``b`` order from +0, then the column's chain, :func:`~.workloads.wgrad.reduce_partials`
  over the rows.

``tests/test_fast_model.py`` checks the values bit for bit and the cycle counts against the
cycle-exact model. The cycle counts come from the closed forms of docs/workloads.md (dense
GEMM: exact; sparse: the busiest column sets the pace) and are estimates, not counts.
"""

from dataclasses import dataclass

import numpy as np

from wafer_engine.rtl.params import ArrayParams
from wafer_engine.rtl.router import HOP_CYCLES
from wafer_engine.fabric.model.fp_model import fp16_mul, fp32_add, fp32_relu, fp32_to_fp16
from wafer_engine.fabric.workloads.common import split, to_fp16_bits
from wafer_engine.fabric.workloads.gemm import check_gemm_operands
from wafer_engine.fabric.workloads.wgrad import (check_wgrad_operands, grad_columns,
                                                 grad_drains, grad_round_bounds, grad_rounds,
                                                 grad_slots, reduce_partials)

__all__ = ["FabricStats", "gemm_fast", "wgrad_fast", "gemm_cycles", "wgrad_cycles",
           "column_issue_cycles", "grad_issue_cycles", "chain_reduction_cycles", "PE_LATENCY",
           "ACC_SPACING"]

#: A PE's fill and drain (input to output) in cycles (docs/pe.md).
PE_LATENCY = 16
#: Per column of a chain reduction: 17 cycles from a PE's input to its output, 2 router hops.
_CHAIN_STEP = 17 + 2 * HOP_CYCLES
#: Accesses to one accumulator are at least this many cycles apart (the adder's latency: its
#: result is forwarded to its input).
ACC_SPACING = 4
#: A zero result is neither queued nor routed out: the array goes quiet this many cycles
#: before a sent result would have left.
_UNSENT = 2
#: GRAD jobs of one color issue round-robin in groups of this many, one product per cycle; a
#: job's elements are this many cycles apart (each add needs the previous sum).
_GRAD_GROUP = 4
#: From a GRAD_ACC phase's last issue in the busiest PE to the array quiet: the last element's
#: accumulator write and the quiet check (measured on the cycle-exact model).
_GRAD_ACC_TAIL = PE_LATENCY + 2


@dataclass
class FabricStats:
    """What one run cost on the fabric. ``cycles``: from the first wavelet in to the last out
    (an estimate here; counted on the RTL by the ``verilator`` backend); ``fmac_ops``: FMAC
    issues over all PEs; ``zero_skipped``: zero-valued data wavelets dropped by the PEs;
    ``wavelets``: wavelets the host streamed in; ``wavelets_out``: wavelets that left."""
    cycles: int
    fmac_ops: int
    zero_skipped: int
    wavelets: int
    wavelets_out: int

    def __add__(self, other):
        return FabricStats(*(a + b for a, b in zip(self.astuple(), other.astuple())))

    def astuple(self):
        return (self.cycles, self.fmac_ops, self.zero_skipped, self.wavelets,
                self.wavelets_out)


def column_issue_cycles(rows_in_order, length):
    """Cycles column ``c``'s busiest PE issues for: weights in stream order, the output row
    ``i`` of each given, ``length`` FMACs each, back to back except that a weight must start
    ``ACC_SPACING`` cycles after the previous weight of the same ``i`` (its accumulators
    are still in flight). Only a batch slice under ``ACC_SPACING`` can stall."""
    count = len(rows_in_order)
    if length >= ACC_SPACING or count == 0:
        return count * length
    t, last = -length, {}
    for i in rows_in_order:
        t = max(t + length, last.get(i, -ACC_SPACING) + ACC_SPACING)
        last[i] = t
    return t + length


def gemm_cycles(nonzero_per_column, m, batch, rows, issue_cycles=None, last_sent=None):
    """Estimated cycles of a weight-streaming GEMM from the first weight in to the last result
    out.

    ``nonzero_per_column``: non-zero weights streamed into each array column; ``m``: output
    rows; ``batch``: B, split over ``rows`` (row 0 has the longest slice ``L``, so it sets the
    pace). Weight phase: each weight runs ``L`` FMACs back to back in the busiest column
    (``issue_cycles[c]``, from :func:`column_issue_cycles`, when short slices stall; ``None``:
    ``L`` per weight), then the PE's fill and drain and one hop per row. Reduction: row ``r``'s drain
    starts ``r`` hops late and its last column sends one result per cycle behind one chain step
    per column; ``last_sent[r]``: the local index ``i * L_r + b`` of row ``r``'s last non-zero
    result (-1: none; ``None``: every result is sent).
    """
    parts = split(batch, rows)
    length = len(parts[0])
    cols = len(nonzero_per_column)
    work = issue_cycles or [count * length for count in nonzero_per_column]
    busiest = max(work)
    stream = busiest + PE_LATENCY + HOP_CYCLES * rows if busiest else 0
    return stream + chain_reduction_cycles([m * len(part) for part in parts], cols, last_sent)


def chain_reduction_cycles(results_per_row, cols, last_sent=None):
    """Cycles of the chain reductions toward the east edge, from the drain command entering
    row 0: row ``r`` starts ``r`` hops late and its last column sends one result per cycle
    behind one chain step per column. ``results_per_row``: results each array row reduces;
    ``last_sent[r]``: the local index of row ``r``'s last non-zero result, -1 if none (zero
    results are never sent; ``None``: every result is sent)."""
    if last_sent is None:
        last_sent = [n - 1 for n in results_per_row]
    ends = [HOP_CYCLES * r + k + 1 for r, k in enumerate(last_sent) if k >= 0]
    if not ends:
        # Nothing leaves: the array goes quiet when the last REDUCE has left the pipeline,
        # which skips the output FIFO and the hop out.
        ends = [HOP_CYCLES * r + n - _UNSENT for r, n in enumerate(results_per_row) if n]
    return max(ends) + _CHAIN_STEP * cols


def grad_issue_cycles(count, length):
    """Cycles a PE issues for ``count`` GRAD wavelets of one color and ``length`` elements
    each, back to back: groups of four jobs take ``4 L`` cycles, a last group of ``r < 4``
    jobs ``4 (L - 1) + r``; one-element jobs simply follow each other."""
    if length == 1:
        return count
    groups, rest = divmod(count, _GRAD_GROUP)
    return groups * _GRAD_GROUP * length + (_GRAD_GROUP * (length - 1) + rest if rest else 0)


def wgrad_cycles(positions_per_column, batch, rows, slots):
    """Estimated cycles of the weight gradient (:mod:`.workloads.wgrad`): every column at once,
    in rounds of at most ``slots`` positions per column (:func:`~.workloads.wgrad.grad_rounds`),
    each a GRAD_ACC phase and a drain phase. GRAD_ACC phase: the index wavelets reach row ``r``
    ``r`` hops after row 0, and row ``r``'s PE issues the round's positions over its batch
    slice in :func:`grad_issue_cycles`; the busiest column and row set the pace, and the array
    is quiet ``_GRAD_ACC_TAIL`` cycles after the last issue. Drain phase: the longest column's
    ``K_c`` sums leave one per cycle behind one chain step per row. Both measured on the
    cycle-exact model, where the sum of the phases equals the run's span from the first
    wavelet in to the last sum out."""
    parts = split(batch, rows)
    rounds, lengths = grad_rounds(positions_per_column, slots)
    if not rounds:
        return 0
    # Round q's positions per column; a round costs what its busiest column and its longest
    # drain cost (grad_issue_cycles rises with the count), so rounds alike are counted once.
    lo, hi = grad_round_bounds(positions_per_column, lengths, rounds)
    per_round = hi - lo
    busiest = per_round.max(axis=1)
    drain = np.where(per_round > 0, np.asarray(lengths), 0).max(axis=1)
    # The last row of each slice length: the latest start among the rows of that length.
    last_row = {len(part): r for r, part in enumerate(parts)}
    total = 0
    for (count, k), times in zip(*np.unique(np.stack([busiest, drain], axis=1), axis=0,
                                            return_counts=True)):
        if count:
            issue = max(grad_issue_cycles(int(count), length) + HOP_CYCLES * r
                        for length, r in last_row.items())
            total += int(times) * (issue + _GRAD_ACC_TAIL + int(k) + _CHAIN_STEP * rows)
    return total


def _mac_accumulate(w16, x16, features):
    """fp32 accumulators (M x B) of one column: ``acc = fp32_add(w_ij * x_j, acc)`` for the
    non-zero ``w_ij``, ``j`` in ``features`` rising. Weights of one ``j`` touch distinct
    rows, so each ``j`` is one vector step."""
    m, batch = w16.shape[0], x16.shape[1]
    acc = np.zeros((m, batch), dtype=np.uint32)
    for j in features:
        rows = np.flatnonzero(w16[:, j] & 0x7FFF)
        if rows.size:
            product = fp16_mul(w16[rows, j][:, None], x16[j][None, :])
            acc[rows] = fp32_add(product, acc[rows])
    return acc


def gemm_fast(w, x, params=None, relu=False):
    """``(Y, stats)`` for ``Y = W X`` exactly as :func:`~.workloads.gemm.gemm_program` computes
    it on the array ``params`` (an :class:`~wafer_engine.rtl.params.ArrayParams`, default the
    default array): Y float32 (M x B, the fp16 results; zeros +0)."""
    params = ArrayParams() if params is None else params
    rows, cols = params.rows, params.cols
    w, x = check_gemm_operands(w, x, params)
    (m, n), batch = w.shape, x.shape[1]
    w16, x16 = to_fp16_bits(w), to_fp16_bits(x)
    s = None
    nonzero, issue = [], []
    length = len(split(batch, rows)[0])
    for features in split(n, cols):
        acc = _mac_accumulate(w16, x16, features)
        # Stream order: j outer, i inner (the transpose's row-major non-zeros).
        _, i = np.nonzero((w16[:, features.start:features.stop] & 0x7FFF).T)
        nonzero.append(len(i))
        issue.append(column_issue_cycles(i.tolist(), length))
        s = acc if s is None else fp32_add(s, acc)
    if relu:
        s = fp32_relu(s)
    y16 = fp32_to_fp16(s)
    y16 = np.where(y16 & 0x7FFF, y16, 0).astype(np.uint16)
    sent = int(np.count_nonzero(y16))
    # Row r sends its results in local order i * L_r + b; the run ends with the last one.
    last_sent = [int(max(np.flatnonzero(y16[:, part.start:part.stop].reshape(-1)), default=-1))
                 for part in split(batch, rows)]
    stats = FabricStats(cycles=gemm_cycles(nonzero, m, batch, rows, issue, last_sent),
                        fmac_ops=sum(nonzero) * batch, zero_skipped=0,
                        wavelets=sum(nonzero) + 1, wavelets_out=sent)
    return y16.view(np.float16).astype(np.float32), stats


def wgrad_fast(mask, dy, x, params=None):
    """``(dW, stats)`` exactly as :func:`~.workloads.wgrad.wgrad_program` followed by
    :func:`~.workloads.wgrad.collect_gradients` computes it: dW float32 (M x N), +0 off the
    mask and where ``dY``'s row is all zero."""
    params = ArrayParams() if params is None else params
    rows, cols = params.rows, params.cols
    mask, dy, x = check_wgrad_operands(mask, dy, x, params)
    dy16, x16 = to_fp16_bits(dy), to_fp16_bits(x)
    (m, n), batch = mask.shape, x.shape[1]
    mine, rounds, lengths = grad_columns(mask, dy16, params)
    positions = np.concatenate(mine)    # (column by column: each sum is its own)
    dw = np.zeros((m, n), dtype=np.uint32)
    if len(positions):
        i, j = positions[:, 0], positions[:, 1]
        partials = []
        for batch_r in split(batch, rows):
            products = fp16_mul(dy16[i][:, batch_r.start:batch_r.stop],
                                x16[j][:, batch_r.start:batch_r.stop])
            s = np.zeros(len(positions), dtype=np.uint32)
            for b in range(products.shape[1]):
                s = fp32_add(products[:, b], s)
            partials.append(s)
        dw[i, j] = reduce_partials(partials)
    per_column = [len(p) for p in mine]
    drains = grad_drains(per_column, lengths, rounds)
    stats = FabricStats(cycles=wgrad_cycles(per_column, batch, rows, grad_slots(params.pe)),
                        fmac_ops=len(positions) * batch, zero_skipped=0,
                        wavelets=len(positions) + sum(drains),
                        wavelets_out=sum(d * k for d, k in zip(drains, lengths)))
    return dw.view(np.float32), stats
