"""Compute engines for training: the three matrix products of a dense layer, behind one API.

Every engine offers, for a layer with weights ``W`` (M x N, zero off its ``mask``):

* ``forward(layer, packed, mask, x, relu)`` -> ``Y = W X`` (M x B), ReLU'd if asked;
* ``backward_data(layer, packed_t, mask, dy)`` -> ``dX = W^T dY`` (N x B);
* ``weight_grad(layer, mask, dy, x)`` -> ``dW = dY X^T`` at the mask's positions (M x N, zero
  elsewhere).

``packed`` is what the engine's ``prepare(weights, mask)`` made of the layer (``packed_t`` of
``W^T``), called by the scheduler ahead of time: for the fabric, the weight stream of
:func:`wafer_engine.sw.training.packing.pack_weights`; for the references, the masked fp32 matrix. :class:`FabricEngine` runs them on the array
(``fast``: the fast functional models, bit-exact with the RTL, cycles estimated; ``golden``:
the cycle-exact array model; ``verilator``: the RTL array through cocotb; the names mean the
same as for ``wafer gemv``/``gemm``); :class:`Float64Engine` and :class:`TorchEngine` are the references of the
training check (exact float64 numpy, PyTorch float32).
"""

from collections import defaultdict
from contextlib import contextmanager

import numpy as np

from wafer_engine.rtl.params import ArrayParams
from wafer_engine.fabric.fast.gemm import FabricStats, gemm_cycles, gemm_fast, wgrad_cycles, wgrad_fast
from wafer_engine.fabric.workloads.common import from_fp16_bits, split, to_fp16_bits
from wafer_engine.fabric.workloads.gemm import gemm_program
from wafer_engine.fabric.workloads.wgrad import (collect_gradients, grad_columns, grad_drains,
                                                 grad_slots, wgrad_program)

from wafer_engine.sw.passes.run import run_gemm_passes
from wafer_engine.sw.training.packing import PackPlan, pack_weights, unpack_weights
from wafer_engine.sw.training.pass_plans import gemm_plan, wgrad_plan
from wafer_engine.sw.training.traffic import workload_traffic

__all__ = ["FabricEngine", "Float64Engine", "TorchEngine", "ENGINE_BACKENDS", "PASSES"]

#: Where the products run: the fast functional models, the cycle-exact array model, the RTL.
ENGINE_BACKENDS = ("fast", "golden", "verilator")
#: The fabric's passes, in the order a training step runs them.
PASSES = ("forward", "backward_data", "weight_grad")


def _weights_of(packed):
    """float64 weights (exact fp16 values) from a packed stream."""
    return from_fp16_bits(unpack_weights(packed)).astype(np.float64)


class FabricEngine:
    """The array ``params`` (an :class:`~wafer_engine.rtl.params.ArrayParams`) as a training
    engine on ``backend`` (one of :data:`ENGINE_BACKENDS`).

    A product larger than one run of the array is cut into several runs
    (:mod:`~wafer_engine.sw.training.pass_plans`), with the same bits as one run would give.
    ``stats[pass]`` accumulates :class:`~wafer_engine.fabric.fast.gemm.FabricStats` per pass;
    ``runs[pass]`` counts the array runs; ``dense_cycles[pass]`` what the same runs would
    take with every weight non-zero (the cycle model, for the sparsity speedup). Cycles of
    the ``fast`` backend are the cycle model's estimates; ``golden`` counts them on the
    cycle-exact model, ``verilator`` on the RTL. ``traffic[(pass, layer, role)]`` counts the
    wavelets each run moved between host and fabric
    (:func:`~wafer_engine.sw.training.traffic.workload_traffic`): on the workload handed to
    the backend and what came back; the ``fast`` backend, which runs no workload, takes the
    configuration of the workload of the same shape (built once per shape) and its edge
    wavelets from the fast model's counts of the same streams.
    """

    def __init__(self, backend="fast", params=None):
        if backend not in ENGINE_BACKENDS:
            raise ValueError(f"Backend must be one of {', '.join(ENGINE_BACKENDS)}, not "
                             f"{backend!r}")
        self.backend = backend
        self.params = ArrayParams() if params is None else params
        self.rows, self.cols = self.params.rows, self.params.cols
        self._plans = {}
        self._shape_traffic = {}
        self.reset_stats()

    def reset_stats(self):
        self.stats = defaultdict(lambda: FabricStats(0, 0, 0, 0, 0))
        self.dense_cycles = defaultdict(int)
        self.runs = defaultdict(int)
        self.traffic = defaultdict(int)

    def _pad(self, weights, mask):
        """``weights`` and ``mask`` with masked-off zero columns up to the array's column
        count: the mappings give every array column at least one input feature, and a layer
        with fewer inputs (the backward pass of a 3-class output layer on 4 columns) gets
        features whose weights are never streamed."""
        pad = self.cols - mask.shape[1]
        if pad <= 0:
            return weights, mask
        m = mask.shape[0]
        return (np.concatenate([weights, np.zeros((m, pad), np.asarray(weights).dtype)], axis=1),
                np.concatenate([mask, np.zeros((m, pad), bool)], axis=1))

    def _pad_rows(self, x, n):
        """``x`` with zero rows up to ``n`` (inputs of the padded features)."""
        x = np.asarray(x)
        if x.shape[0] >= n:
            return x
        return np.concatenate([x, np.zeros((n - x.shape[0], x.shape[1]), x.dtype)])

    def prepare(self, weights, mask, version=None):
        """The layer's weight stream (non-zero fp16 weights as wavelet payloads). A
        ``version`` seen before reuses that mask's :class:`~wafer_engine.sw.training.packing.PackPlan`."""
        weights, mask = self._pad(weights, mask)
        if version is None:
            return pack_weights(weights, mask, self.cols)
        plan = self._plans.get(version)
        if plan is None:
            # Plans of older mask versions are never asked for again.
            self._plans = {k: v for k, v in self._plans.items() if k[-1] == version[-1]}
            plan = self._plans[version] = PackPlan(mask, self.cols)
        return pack_weights(weights, mask, self.cols, plan)

    @contextmanager
    def uncounted(self):
        """Runs inside leave ``stats``, ``dense_cycles``, ``runs`` and ``traffic`` as they
        were."""
        saved = [(d, dict(d)) for d in (self.stats, self.dense_cycles, self.runs,
                                        self.traffic)]
        try:
            yield
        finally:
            for d, before in saved:
                d.clear()
                d.update(before)

    def _count(self, name, layer, stats, dense, traffic):
        self.stats[name] = self.stats[name] + stats
        self.dense_cycles[name] += dense
        self.runs[name] += 1
        for role, wavelets in traffic.items():
            if wavelets:
                self.traffic[(name, layer, role)] += wavelets

    def _run_counted(self, name, layer, work, dense):
        """Run ``work`` on the backend, count it; returns the backend's ``RunResult``."""
        from wafer_engine.sw.backends.run import run_workload
        result = run_workload(work, self.backend)
        stats = FabricStats(result.cycles, result.total("fmac_issues"),
                            result.total("zeros_skipped"), result.wavelets_in,
                            sum(len(s) for s in result.outputs.values()))
        self._count(name, layer, stats, dense, workload_traffic(work, result.outputs))
        return result

    def _count_fast(self, name, layer, stats, dense, key, build, commands=None):
        """Count a run of the fast model: the configuration (and the control wavelets, unless
        ``commands`` gives their number) of the workload ``build()`` makes, once per ``key``
        (what the configuration depends on), and the fast model's counts of the wavelets in
        and out."""
        config = self._shape_traffic.get(key)
        if config is None:
            config = workload_traffic(build(), {})
            config = self._shape_traffic[key] = {r: config[r] for r in
                                                 ("program", "x", "dy", "commands")}
        if commands is not None:
            config = dict(config, commands=commands)
        traffic = dict(config, stream=stats.wavelets - config["commands"],
                       results=stats.wavelets_out)
        self._count(name, layer, stats, dense, traffic)

    @staticmethod
    def _gemm_dense(block):
        """Cycles of the run ``block`` with every weight non-zero."""
        m, n = len(block.m), len(block.n)
        return gemm_cycles([m * len(f) for f in split(n, block.params.cols)], m,
                           len(block.batch), block.params.rows)

    def _matmul(self, name, layer, packed, x, relu):
        w = _weights_of(packed)
        m, n = packed.shape
        x = self._pad_rows(x, n)
        batch = x.shape[1]
        plan = gemm_plan(m, n, batch, self.params)
        if self.backend != "fast":
            dense = iter([self._gemm_dense(b) for b in plan.passes])
            y, _ = run_gemm_passes(w, x, plan, lambda work: self._run_counted(
                name, layer, work, next(dense)), relu=relu)
            return y
        y = np.zeros((m, batch), dtype=np.float32)
        for block in plan.passes:
            wb, xb = w[block.m.start:block.m.stop], x[:, block.batch.start:block.batch.stop]
            y[block.m.start:block.m.stop, block.batch.start:block.batch.stop], stats = \
                gemm_fast(wb, xb, block.params, relu=relu)
            key = ("gemm", len(block.m), n, len(block.batch), relu, block.params)
            self._count_fast(name, layer, stats, self._gemm_dense(block), key,
                             lambda: gemm_program(wb, xb, block.params, relu=relu))
        return y

    def forward(self, layer, packed, mask, x, relu):
        return self._matmul("forward", layer, packed, x, relu)

    def backward_data(self, layer, packed_t, mask, dy):
        return self._matmul("backward_data", layer, packed_t, dy, relu=False)

    def weight_grad(self, layer, mask, dy, x):
        n_layer = mask.shape[1]
        _, mask = self._pad(mask, mask)
        x = self._pad_rows(x, mask.shape[1])
        (m, n), batch = mask.shape, x.shape[1]
        dy = np.asarray(dy)
        dw = np.zeros((m, n), dtype=np.float32)
        for block in wgrad_plan(m, n, batch, self.params).passes:
            rows = slice(block.m.start, block.m.stop)
            mb, dyb = mask[rows], dy[rows]
            dense = wgrad_cycles([len(mb) * len(f) for f in split(n, block.params.cols)],
                                 batch, block.params.rows, grad_slots(block.params.pe))
            if self.backend == "fast":
                dw[rows], stats = wgrad_fast(mb, dyb, x, block.params)
                # The program's slots (REDUCE lengths, acc images) follow the positions per
                # column, and so do the drain commands.
                mine, rounds, lengths = grad_columns(mb, to_fp16_bits(dyb), block.params)
                drains = grad_drains([len(p) for p in mine], lengths, rounds)
                key = ("wgrad", len(mb), n, batch, block.params, tuple(lengths))
                self._count_fast("weight_grad", layer, stats, dense, key,
                                 lambda: wgrad_program(mb, dyb, x, block.params),
                                 commands=sum(drains))
            else:
                work = wgrad_program(mb, dyb, x, block.params)
                result = self._run_counted("weight_grad", layer, work, dense)
                dw[rows] = collect_gradients([result.outputs[o] for o in work.outputs], mb,
                                             dyb, block.params)
        return dw[:, :n_layer]


class _Dense:
    """A reference engine's prepared layer: the masked fp32 weights."""

    def __init__(self, weights, mask):
        self.weights = np.where(mask, weights, np.float32(0)).astype(np.float32)


class Float64Engine:
    """Exact float64 numpy products on the same (fp32 master) weights: the reference."""

    def prepare(self, weights, mask, version=None):
        return _Dense(weights, mask)

    def forward(self, layer, packed, mask, x, relu):
        y = packed.weights.astype(np.float64) @ x
        return np.maximum(y, 0) if relu else y

    def backward_data(self, layer, packed_t, mask, dy):
        return packed_t.weights.astype(np.float64) @ dy

    def weight_grad(self, layer, mask, dy, x):
        return (np.asarray(dy, np.float64) @ np.asarray(x, np.float64).T) * mask


class TorchEngine:
    """The same products in PyTorch float32 (torch imported on construction)."""

    def __init__(self):
        import torch
        self.torch = torch

    def prepare(self, weights, mask, version=None):
        return _Dense(weights, mask)

    def _t(self, a):
        return self.torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

    def forward(self, layer, packed, mask, x, relu):
        y = self._t(packed.weights) @ self._t(x)
        return (self.torch.relu(y) if relu else y).numpy()

    def backward_data(self, layer, packed_t, mask, dy):
        return (self._t(packed_t.weights) @ self._t(dy)).numpy()

    def weight_grad(self, layer, mask, dy, x):
        return ((self._t(dy) @ self._t(x).T) * self._t(mask)).numpy()
