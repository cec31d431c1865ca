"""Weight-stationary MLP inference on the fabric (brief section 4, "the transpose").

A layer ``H' = relu(W H)`` runs as the GEMM mapping of the transposed product
``H'^T = H^T W^T``: ``W^T`` is the resident operand, so PE ``(r, c)`` holds the block of W
whose output features are row ``r``'s and whose input features are column ``c``'s; the
activations ``H^T`` are the streamed operand, so only non-zero activations enter, as
``(fp16 h, (sample << jbits) | feature)`` wavelets, each triggering the MACs of the PE's
output features; ReLU, the fp16 rounding and the dropping of zero results happen in the last
column. The host cuts the samples (and, when a layer does not fit, its output or input
features) into passes (:mod:`wafer_engine.sw.passes.run`); activations come back to the host
between layers.

The sums run in the order of the weight-streaming forward pass of training (features of a
column rising, then the chain across columns), so the logits equal, bit for bit, those of
:class:`~wafer_engine.sw.training.trainer.Trainer` on the same array's columns.
"""

from dataclasses import dataclass, field

import numpy as np

from wafer_engine.fabric.fast.gemm import gemm_cycles
from wafer_engine.fabric.workloads.common import from_fp16_bits, split, to_fp16_bits

from wafer_engine.sw.passes.plan import plan_gemm
from wafer_engine.sw.passes.run import run_gemm_passes

__all__ = ["InferenceResult", "infer_mlp", "host_forward"]


@dataclass
class InferenceResult:
    """``logits`` (classes x S, float32: fp16 values), ``predictions`` (S,), per layer
    ``layers`` (dicts: shape, passes, cycles, fmac_ops, wavelets, zero activations in, dense
    cycles) and ``activations`` (the fp16-valued inputs of each layer, features x S)."""
    logits: np.ndarray
    predictions: np.ndarray
    layers: list = field(default_factory=list)
    activations: list = field(default_factory=list)

    def totals(self):
        """Counters over all layers: ``cycles`` (fabric, passes back to back),
        ``config_cycles``, ``fmac_ops``, ``wavelets`` in, ``passes``, ``activation_sparsity``
        (zero fraction of all layer inputs), ``dense_cycles`` (the cycle model with every
        activation non-zero) and ``speedup_vs_dense``."""
        keys = ("cycles", "config_cycles", "fmac_ops", "wavelets", "passes", "dense_cycles")
        out = {k: sum(layer[k] for layer in self.layers) for k in keys}
        values = sum(layer["activations"] for layer in self.layers)
        zeros = sum(layer["zero_activations"] for layer in self.layers)
        out["activation_sparsity"] = zeros / values if values else 0.0
        out["speedup_vs_dense"] = out["dense_cycles"] / out["cycles"] if out["cycles"] else None
        return out


def _fp16(a):
    return from_fp16_bits(to_fp16_bits(a)).astype(np.float32)


def _dense_cycles(block, rows):
    """The cycle model's estimate of one pass with every activation non-zero."""
    p = block.params
    per_column = [len(block.m) * len(f) for f in split(len(block.n), p.cols)]
    return gemm_cycles(per_column, len(block.m), len(block.batch), p.rows)


def _with_bias(h, bias):
    """``h`` (S x features) with a column of ones when the layer has a bias: the bias is the
    weights' last column, met by that constant input like any other weight."""
    return np.concatenate([h, np.ones((h.shape[0], 1), h.dtype)], axis=1) if bias else h


def infer_mlp(weights, samples, params, run, bias=None):
    """Run the MLP ``weights`` (one M x N float matrix per layer; ReLU after all but the last;
    ``bias[k]``: layer ``k``'s last column is its bias) on ``samples`` (S x features) on the
    array ``params`` (an :class:`~wafer_engine.rtl.params.ArrayParams`); ``run(workload) ->
    RunResult`` runs one pass on a backend. Returns an :class:`InferenceResult`. Raises
    ``ValueError`` for samples of the wrong width and layers no pass can hold."""
    bias = [False] * len(weights) if bias is None else list(bias)
    samples = np.asarray(samples, dtype=np.float64)
    features = weights[0].shape[1] - int(bias[0])
    if samples.ndim != 2 or samples.shape[1] != features:
        raise ValueError(f"Samples must have shape (S, {features}), not {samples.shape}")
    plans = []
    count = samples.shape[0]
    for w in weights:
        m, n = w.shape
        plans.append(plan_gemm(count, n, m, params))     # checks every layer before any run
    h = _with_bias(_fp16(samples), bias[0])              # S x features: the streamed operand
    result = InferenceResult(None, None)
    last = len(weights) - 1
    for k, (w, plan) in enumerate(zip(weights, plans)):
        result.activations.append(h.T.copy())
        yt, runs = run_gemm_passes(h, np.asarray(w, dtype=np.float64).T, plan, run,
                                   relu=k < last)
        zeros = int(np.count_nonzero(h == 0))
        result.layers.append({
            "shape": list(w.shape), "passes": len(runs),
            "cycles": sum(r.result.cycles for r in runs),
            "config_cycles": sum(r.result.config_cycles for r in runs),
            "fmac_ops": sum(r.result.total("fmac_issues") for r in runs),
            "wavelets": sum(r.result.wavelets_in for r in runs),
            "activations": int(h.size), "zero_activations": zeros,
            "dense_cycles": sum(_dense_cycles(r.block, params.rows) for r in runs)})
        h = yt if k == last else _with_bias(yt, bias[k + 1])
    result.logits = h.T
    result.predictions = np.argmax(h, axis=1)
    return result


def host_forward(weights, samples, bias=None):
    """The host's float64 evaluation with the fabric's roundings at the layer boundaries:
    operands rounded to fp16, each layer's output (ReLU'd but for the last) rounded to fp16.
    Returns the logits (classes x S, float64). Differs from the fabric only by its fp32 sums'
    rounding (docs/workloads.md: within the error bound)."""
    bias = [False] * len(weights) if bias is None else list(bias)
    h = _fp16(np.asarray(samples, dtype=np.float64).T).astype(np.float64)
    for k, w in enumerate(weights):
        z = _fp16(w).astype(np.float64) @ _with_bias(h.T, bias[k]).T
        if k < len(weights) - 1:
            z = np.maximum(z, 0)
        h = _fp16(z).astype(np.float64)
    return h
