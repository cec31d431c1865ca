"""How each product of a training step is cut into runs of the array, when a layer is larger
than one run holds.

The cuts are :func:`~wafer_engine.sw.passes.plan.plan_gemm`'s, on the whole array
(``shrink=False``: every run of a layer uses all its rows and columns, so each sum runs
through the same PEs in the same order as in one run, and the bits do not depend on how a
layer is cut). Output rows and batch columns are cut freely. Two cuts are refused, so that
every backend (the fast model included) computes the same bits:

* input features (a column of PEs too small for its share of them): the passes would return
  fp32 partial sums added on the host, which the fast model does not do;
* the weight gradient's batch: its sums run over the batch, so cutting it would add the
  blocks' partial sums on the host in a new order.
"""

from wafer_engine.fabric.workloads.wgrad import check_wgrad_shape

from wafer_engine.sw.passes.plan import plan_gemm

__all__ = ["gemm_plan", "wgrad_plan"]


def gemm_plan(m, n, batch, params):
    """The runs (a :class:`~wafer_engine.sw.passes.plan.PassPlan`) of ``Y = W X``, W: ``m`` x
    ``n``, X: ``n`` x ``batch``, on the array ``params``. Raises ``ValueError`` naming the
    values for a product that no cut into output rows and batch columns maps."""
    plan = plan_gemm(m, n, batch, params, shrink=False)
    if plan.split_n:
        raise ValueError(f"{n} input features need {len(plan.n_blocks)} runs of a "
                         f"{params.rows}x{params.cols} array (at most {len(plan.n_blocks[0])} "
                         f"per run); training does not split input features")
    return plan


def wgrad_plan(m, n, batch, params):
    """The runs of the weight gradient of an ``m`` x ``n`` layer over ``batch`` samples on the
    array ``params``: :func:`gemm_plan`'s blocks of output rows, each over every input
    feature and the whole batch. Raises ``ValueError`` naming the values for a gradient that
    needs its batch cut or whose X and dY blocks do not fit a PE's mem."""
    plan = gemm_plan(m, n, batch, params)
    blocks = {p.batch for p in plan.passes}
    if len(blocks) > 1:
        raise ValueError(f"The weight gradient of a batch of {batch} needs {len(blocks)} runs "
                         f"of a {params.rows}x{params.cols} array; training does not split the "
                         f"batch: use a smaller one")
    for p in plan.passes:
        check_wgrad_shape(len(p.m), len(p.n), len(p.batch), p.params)
    return plan
