"""The one fixed reduction tree over micro-batch index that every fabric count shares.

A global batch is ``M`` micro-batches. Their gradients are summed in a fixed binary tree over
the index: node ``[lo, hi)`` of ``s = hi - lo > 1`` micro-batches has the children
``[lo, mid)`` and ``[mid, hi)`` with ``mid = lo + 2**(ceil(log2 s) - 1)`` (the dyadic tree,
clipped at ``M``), and each node's value is ``fp32_add(left, right)`` with the fabric's own
adder (:func:`wafer_engine.fabric.model.fp_model.fp32_add`). A node's subtree depends on the
node alone, so a fabric holding a contiguous share of micro-batches can sum each whole node
inside its share itself (:func:`cover`), and the host finishes the same tree from those
partial sums (:func:`tree_sum`). The bits are therefore the same for any number of fabrics.
"""

from wafer_engine.fabric.model.fp_model import fp32_add

__all__ = ["shares", "cover", "tree_sum", "check_counts"]


def check_counts(fabrics, micro_batches):
    """Validate a fabric count and a micro-batch count (each fabric needs one)."""
    if not isinstance(fabrics, int) or isinstance(fabrics, bool) or fabrics < 1:
        raise ValueError(f"Fabric count must be a positive integer, not {fabrics!r}")
    if (not isinstance(micro_batches, int) or isinstance(micro_batches, bool)
            or micro_batches < fabrics):
        raise ValueError(f"Micro-batch count must be an integer of at least the {fabrics} "
                         f"fabrics, not {micro_batches!r}")


def _mid(lo, hi):
    return lo + (1 << ((hi - lo - 1).bit_length() - 1))


def shares(micro_batches, fabrics):
    """Contiguous ``(start, stop)`` micro-batch ranges of each fabric, the first ones one
    longer when the count does not divide."""
    check_counts(fabrics, micro_batches)
    base, extra = divmod(micro_batches, fabrics)
    out, start = [], 0
    for k in range(fabrics):
        stop = start + base + (k < extra)
        out.append((start, stop))
        start = stop
    return out


def cover(start, stop, micro_batches):
    """The largest tree nodes ``(lo, hi)`` inside ``[start, stop)``, left to right: what a
    fabric holding those micro-batches sums and sends back."""
    out = []

    def visit(lo, hi):
        if hi <= start or lo >= stop:
            return
        if start <= lo and hi <= stop:
            out.append((lo, hi))
            return
        mid = _mid(lo, hi)
        visit(lo, mid)
        visit(mid, hi)

    visit(0, micro_batches)
    return out


def tree_sum(known, lo, hi):
    """Value of node ``[lo, hi)`` (fp32 bits, ``uint32`` arrays) from ``known``, a dict of
    node -> value holding at least a cover of ``[lo, hi)``; missing nodes are summed from
    their children. ``KeyError`` names a micro-batch nothing covers."""
    if (lo, hi) in known:
        return known[(lo, hi)]
    if hi - lo == 1:
        raise KeyError(f"Micro-batch {lo} has no gradient")
    mid = _mid(lo, hi)
    return fp32_add(tree_sum(known, lo, mid), tree_sum(known, mid, hi))
