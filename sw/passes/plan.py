"""Pass planning: which blocks of a GEMM or GEMV run in which pass, on which tiles.

One pass is one run of a mapping (:func:`~wafer_engine.fabric.workloads.gemm.gemm_program`,
:func:`~wafer_engine.fabric.workloads.gemv.gemv_program`) on a block of the problem. The plan
is pure arithmetic on shapes and the array's parameters, so every limit is checked before
anything runs, whatever the problem's size.

* Output rows (GEMM and GEMV ``M``) and batch columns (GEMM ``B``) are cut freely: an output
  entry depends only on its own row and column, and its sum runs through the same PEs in the
  same order whatever block it is in, so cutting them changes no bit.
* Input features (``N``) are cut only when one column of PEs cannot hold its share of them
  even for a single batch column (``ceil(N / cols) > mem_words``, or beyond the 15-bit
  (GEMM) / 16-bit (GEMV) feature index). Then each pass leaves its sums unrounded
  (``fp32_out``: dense fp32 out of the last column) and the host adds the passes' partial
  sums in N order with the fabric's adder, applies ReLU and rounds to fp16 once, exactly as
  the chain would have (see docs/workloads.md, "Passes").
* An array larger than the problem uses only the tiles it needs: at most ``B`` rows (GEMM) or
  ``ceil(M / 5)`` rows (GEMV: a streamed ``x_j`` costs a PE 5 cycles however few output rows
  it owns, so thinner row slices add tiles, not speed) and at most ``N`` columns, so a
  1000 x 1000 request for an 8 x 16 matrix builds a 2 x 16 program. ``shrink=False`` (a board, whose array is fixed) keeps the whole
  array and leaves the mapping's own checks to refuse what does not fit.
"""

from dataclasses import dataclass

from wafer_engine.fabric.fast.gemm import ACC_SPACING
from wafer_engine.fabric.workloads.common import split
from wafer_engine.fabric.workloads.gemm import check_gemm_shape, feature_index_bits

__all__ = ["Pass", "PassPlan", "plan_gemm", "plan_gemv", "GEMM_FEATURES_MAX",
           "GEMV_FEATURES_MAX"]

#: Input features one GEMM column may own: the weight index keeps 15 bits for them (jbits).
GEMM_FEATURES_MAX = 1 << 15
#: Input features one GEMV column may own: the streamed x_j carries a 16-bit local index.
GEMV_FEATURES_MAX = 1 << 16
#: Sums a drain covers and output indices: 16-bit task ``len`` and wavelet index.
_LEN_LIMIT = 0xFFFF


def _ceil(a, b):
    return -(-a // b)


@dataclass(frozen=True)
class Pass:
    """One run of the mapping: output rows ``m``, input features ``n`` and (GEMM) batch
    columns ``batch`` of the problem, on the array ``params`` (the tiles this block needs)."""
    m: range
    n: range
    batch: range
    params: object

    def describe(self):
        """The block as ``{"m": [start, stop], ...}`` for reports."""
        return {"m": [self.m.start, self.m.stop], "n": [self.n.start, self.n.stop],
                "batch": [self.batch.start, self.batch.stop],
                "array": [self.params.rows, self.params.cols]}


@dataclass(frozen=True)
class PassPlan:
    """The passes of one problem, in run order: for each block of output rows and batch
    columns, its input-feature blocks in N order (the order their partial sums are added)."""
    kind: str           #: "gemm" or "gemv"
    shape: tuple        #: (M, N, B); B is 1 for a GEMV
    params: object      #: the array asked for
    passes: tuple
    n_blocks: tuple     #: the input-feature blocks, in the order their sums are added

    @property
    def split_n(self):
        """Whether input features are split: passes then return fp32 partial sums."""
        return len(self.n_blocks) > 1

    def additions(self):
        """fp32 additions on the longest path from a product to a result (the ``additions``
        of :func:`~wafer_engine.fabric.workloads.error_bound.reference_bound`): the largest
        PE slice of features minus one, one per further column of the chain, one per further
        N block on the host."""
        worst = 0
        for p in self.passes:
            features = len(split(len(p.n), p.params.cols)[0])
            worst = max(worst, max(features - 1, 0) + p.params.cols - 1)
        return worst + len(self.n_blocks) - 1


def _check_size(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, not {value!r}")


def _n_blocks(n, cols, features_max, mem_words):
    """(blocks of N, features per column of the largest): no split if a column can hold its
    share for one batch column or one output row."""
    limit = min(features_max, mem_words)
    count = _ceil(n, cols * limit)
    blocks = split(n, count)
    return blocks, _ceil(len(blocks[0]), min(cols, len(blocks[0])))


def plan_gemm(m, n, batch, params, shrink=True):
    """The passes of ``Y = W X``, W: ``m`` x ``n``, X: ``n`` x ``batch``, on the array
    ``params`` (an :class:`~wafer_engine.rtl.params.ArrayParams`). Each pass holds as much as
    the PE allows: batch slices as long as ``max_len``, ``acc_words`` and ``mem_words`` let
    them, then as many output rows as fit beside them. Raises ``ValueError`` naming the values
    for a problem no pass can hold (too few colors; with ``shrink=False``, fewer features or
    batch columns than array columns or rows)."""
    for name, value in (("M", m), ("N", n), ("B", batch)):
        _check_size(name, value)
    p = params.pe
    rows = min(params.rows, batch) if shrink else params.rows
    cols = min(params.cols, n) if shrink else params.cols
    if p.colors < 3 or not shrink and (n < cols or batch < rows):
        check_gemm_shape(1, n, batch, params)       # raises its colors or shape message
    cap = min(p.max_len, p.acc_words, _LEN_LIMIT)
    n_blocks, features = _n_blocks(n, cols, GEMM_FEATURES_MAX, p.mem_words)
    length = max(1, min(_ceil(batch, rows), cap, p.mem_words // features))
    count = _ceil(batch, rows * length)
    if not shrink:
        count = min(count, batch // rows)     # every block keeps a slice for every row
    b_blocks = split(batch, count)
    length = _ceil(len(b_blocks[0]), min(rows, len(b_blocks[0])))
    jbits = feature_index_bits(features)
    m_pass = min(m, cap // length, 1 << (16 - jbits))
    if m_pass < 1:
        check_gemm_shape(m, len(n_blocks[0]), len(b_blocks[0]),
                         params.replace(rows=min(rows, len(b_blocks[0])),
                                        cols=min(cols, len(n_blocks[0]))))
    m_blocks = split(m, _ceil(m, m_pass))
    passes = []
    for mb in m_blocks:
        for bb in b_blocks:
            for nb in n_blocks:
                used = params.replace(rows=min(rows, len(bb)), cols=min(cols, len(nb)))
                passes.append(Pass(mb, nb, bb, used))
    for shape in {(len(q.m), len(q.n), len(q.batch), q.params) for q in passes}:
        check_gemm_shape(*shape)
    return PassPlan("gemm", (m, n, batch), params, tuple(passes), tuple(n_blocks))


def plan_gemv(m, n, params, shrink=True):
    """The passes of ``y = A x``, A: ``m`` x ``n``, on the array ``params``: each pass holds
    as many output rows as the PEs' accumulators (``max_len``, ``acc_words``) and memory
    (``mem_words``, beside their share of the features) allow. Raises ``ValueError`` naming
    the values for a problem no pass can hold (too few colors)."""
    for name, value in (("M", m), ("N", n)):
        _check_size(name, value)
    p = params.pe
    # Each x_j costs a PE max(L, ACC_SPACING) cycles whatever its L output rows: rows that
    # would own fewer than ACC_SPACING output rows each add tiles but no speed.
    rows = min(params.rows, _ceil(m, ACC_SPACING)) if shrink else params.rows
    cols = min(params.cols, n) if shrink else params.cols
    # x on color 0, partial sums on 1 and, from the second column on, 2 (docs/workloads.md).
    need = 3 if cols > 1 else 2
    if p.colors < need:
        raise ValueError(f"The GEMV mapping on {cols} array columns needs {need} colors; the "
                         f"PE has {p.colors}")
    cap = min(p.max_len, p.acc_words, _LEN_LIMIT)
    n_blocks, features = _n_blocks(n, cols, GEMV_FEATURES_MAX, p.mem_words)
    per_pe = max(1, min(cap, p.mem_words // features))
    m_pass = min(m, rows * per_pe, 1 << 16)
    m_blocks = split(m, _ceil(m, m_pass))
    passes = []
    for mb in m_blocks:
        for nb in n_blocks:
            used = params.replace(rows=min(rows, len(mb)) if shrink else rows,
                                  cols=min(cols, len(nb)) if shrink else cols)
            passes.append(Pass(mb, nb, range(1), used))
    return PassPlan("gemv", (m, n, 1), params, tuple(passes), tuple(n_blocks))
