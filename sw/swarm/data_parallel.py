"""Data-parallel weight streaming on Dask distributed: the SwarmX role, with K fabrics.

The process that makes a :class:`DataParallelTrainer` keeps the MemoryX role: the master
weights, masks and optimizer state (its :class:`~wafer_engine.sw.training.weight_store.WeightStore`),
the optimizer step and the checkpoints, all inherited from
:class:`~wafer_engine.sw.training.trainer.Trainer`. The K fabrics are Dask workers: a
``LocalCluster`` of K worker processes that the trainer starts and shuts down, or K workers of
a running cluster at ``address``.

A step's global batch is a fixed number ``M`` of micro-batches of ``micro_batch`` samples.
The host packs each layer's weight streams once (forward W, backward-data W^T) and the mask
bitmaps, and sends them to every fabric (the broadcast); fabric ``k`` takes a contiguous
share of the micro-batches (:func:`~.tree.shares`), computes each micro-batch's loss and
gradients with :meth:`Trainer.gradients` on its own engine, sums them over the whole tree
nodes of its share with the fabric's fp32 adder, and returns those partial sums (fp32 at the
mask positions). The host completes the same fixed tree (:mod:`.tree`), scales by ``1 / M``
and applies the optimizer. The tree does not depend on K, so the weights after any number of
steps are the same bits for every K, and for reruns.

If a worker dies in the middle of a step, Dask runs its task again on a live worker; the task
is a pure function of what it is sent, so the step's bits do not change. ``bytes_moved``
counts what the steps sent (the payload arrays' sizes), to compare with
:func:`~.cost.step_bytes`.
"""

import logging
from dataclasses import dataclass

import numpy as np

from wafer_engine.sw.training.engines import FabricEngine
from wafer_engine.sw.training.trainer import Trainer

from wafer_engine.sw.swarm.tree import check_counts, cover, shares, tree_sum

__all__ = ["DataParallelTrainer", "FabricShare", "connect", "run_share"]


def connect(fabrics, address=None, timeout=10):
    """``(client, cluster)``: a new ``LocalCluster`` of ``fabrics`` single-threaded worker
    processes (``address`` None; the caller closes both), or a client of the scheduler at
    ``address`` (cluster None) with at least ``fabrics`` workers, waited for up to
    ``timeout`` seconds. ``ValueError`` if nothing answers at ``address`` or it has too few
    workers."""
    from distributed import Client, LocalCluster

    if address is None:
        cluster = LocalCluster(n_workers=fabrics, threads_per_worker=1, processes=True,
                               dashboard_address=":0", silence_logs=logging.ERROR)
        return Client(cluster), cluster
    try:
        client = Client(address, timeout=timeout)
    except (OSError, TimeoutError):
        raise ValueError(f"No Dask scheduler answers at {address!r}") from None
    try:
        client.wait_for_workers(fabrics, timeout=timeout)
    except TimeoutError:
        have = len(client.scheduler_info()["workers"])
        client.close()
        raise ValueError(f"The Dask scheduler at {address!r} has {have} workers, not the "
                         f"{fabrics} fabrics asked for") from None
    return client, None


@dataclass
class FabricShare:
    """What one fabric receives for one step: ``streams[(pass, layer)]`` the packed weight
    streams, ``masks`` the layers' masks as bitmaps (``np.packbits``, row-major) with their
    ``shapes``, ``x`` (features x samples) and ``labels`` of micro-batches ``start`` ..
    ``stop`` of ``micro_batches``, ``micro_batch`` samples each; the model's ``spec`` (biases,
    dropout), and the ``seed`` and ``step`` the dropout draws come from."""
    streams: dict
    masks: list
    shapes: list
    x: np.ndarray
    labels: np.ndarray
    start: int
    stop: int
    micro_batches: int
    micro_batch: int
    spec: object
    seed: int
    step: int


class _Streams:
    """A store as :meth:`Trainer.gradients` reads it on a fabric: the model's ``spec`` and the
    masks; the weights are never read there (the streams came packed), so the masks stand in
    for them."""

    def __init__(self, masks, spec):
        self.masks, self.spec = masks, spec
        self.weights = masks
        self.sparsity = [0.0] * len(masks)
        self.mask_version = 0


class _BroadcastEngine:
    """An engine whose ``prepare`` hands out the broadcast streams: the trainer asks for
    stream ``(pass, layer)`` with the version ``(pass, layer, mask_version)``."""

    def __init__(self, engine, streams):
        self.engine, self.streams = engine, streams

    def prepare(self, weights, mask, version=None):
        return self.streams[version[:2]]

    def __getattr__(self, name):
        return getattr(self.engine, name)


def run_share(share, backend="fast", params=None, engine_factory=None):
    """One fabric's part of a step (runs on a Dask worker): ``{"partials": {node: [uint32
    per layer]}, "losses": {micro-batch: loss}, "cycles": fabric cycles}``. The engine is
    ``engine_factory(backend, params)`` (default :class:`FabricEngine`)."""
    masks = [np.unpackbits(bits, count=m * n).reshape(m, n).astype(bool)
             for bits, (m, n) in zip(share.masks, share.shapes)]
    engine = (engine_factory or FabricEngine)(backend, params)
    trainer = Trainer(_Streams(masks, share.spec), None,
                      _BroadcastEngine(engine, share.streams), batch=share.micro_batch,
                      seed=share.seed)
    trainer.step_count = share.step
    sums, losses = {}, {}
    try:
        for index in range(share.start, share.stop):
            cols = slice((index - share.start) * share.micro_batch,
                         (index - share.start + 1) * share.micro_batch)
            trainer.dropout_stream = index
            loss, grads = trainer.gradients(np.ascontiguousarray(share.x[:, cols]),
                                            share.labels[cols])
            losses[index] = loss
            sums[(index, index + 1)] = [np.asarray(g, np.float32)[mask].view(np.uint32)
                                        for g, mask in zip(grads, masks)]
    finally:
        trainer.scheduler.close()
    partials = {}
    for lo, hi in cover(share.start, share.stop, share.micro_batches):
        partials[(lo, hi)] = [tree_sum({node: v[k] for node, v in sums.items()}, lo, hi)
                              for k in range(len(masks))]
    cycles = sum(s.cycles for s in engine.stats.values())
    return {"partials": partials, "losses": losses, "cycles": cycles}


class DataParallelTrainer(Trainer):
    """:class:`~wafer_engine.sw.training.trainer.Trainer` on ``fabrics`` fabrics.

    ``micro_batches`` (M, at least ``fabrics``) of ``micro_batch`` samples make a step's
    batch (``self.batch = M * micro_batch``, what :meth:`train_epoch` cuts). ``backend`` and
    ``params``: each fabric's :class:`FabricEngine` (the host's own packs the streams and
    runs :meth:`predict`); ``address``: a running Dask scheduler (default: start a
    ``LocalCluster`` of ``fabrics`` workers, shut down by :meth:`close`); ``timeout``:
    seconds a step may take, and to reach ``address``; ``engine_factory(backend, params)``:
    builds each fabric's engine (default :class:`FabricEngine`).

    After each step, ``last_cycles`` holds each fabric's cycles; ``bytes_moved`` sums over
    the steps ``{"broadcast": ..., "gradients": ...}``.
    """

    def __init__(self, store, optimizer, fabrics=1, micro_batches=4, micro_batch=8,
                 backend="fast", params=None, address=None, seed=0, prune_epochs=0,
                 timeout=300, engine_factory=None):
        check_counts(fabrics, micro_batches)
        if not isinstance(micro_batch, int) or micro_batch < 1:
            raise ValueError(f"Micro-batch size must be a positive integer, not "
                             f"{micro_batch!r}")
        super().__init__(store, optimizer, FabricEngine(backend, params),
                         batch=micro_batches * micro_batch, seed=seed,
                         prune_epochs=prune_epochs)
        self.fabrics, self.micro_batches, self.micro_batch = fabrics, micro_batches, micro_batch
        self.backend, self.params, self.timeout = backend, self.engine.params, timeout
        self.engine_factory = engine_factory
        self.bytes_moved = {"broadcast": 0, "gradients": 0}
        self.last_cycles = []
        self.client, self.cluster = connect(fabrics, address, timeout)
        workers = sorted(self.client.scheduler_info()["workers"])
        self.workers = workers[:fabrics]

    def _broadcast(self):
        """The streams and mask bitmaps every fabric receives, and their size in bytes."""
        streams = {key: self.engine.prepare(weights, mask, version)
                   for key, weights, mask, version in self.stream_requests(backward=True)}
        masks = [np.packbits(np.asarray(m, dtype=bool)) for m in self.store.masks]
        size = sum(p.nbytes for s in streams.values() for p in s.payloads)
        return streams, masks, size + sum(m.nbytes for m in masks)

    def gradients(self, x, labels):
        """``(loss, [dW_l])`` of the global batch ``x`` (features x M * micro_batch): the mean
        of the micro-batches' losses and the fixed-tree sum of their gradients over M."""
        x, labels = np.asarray(x), np.asarray(labels)
        if x.shape[1] != self.batch:
            raise ValueError(f"A step takes {self.batch} samples ({self.micro_batches} "
                             f"micro-batches of {self.micro_batch}), not {x.shape[1]}")
        streams, masks, size = self._broadcast()
        shapes = [m.shape for m in self.store.masks]
        futures = []
        for k, (a, b) in enumerate(shares(self.micro_batches, self.fabrics)):
            cols = slice(a * self.micro_batch, b * self.micro_batch)
            share = FabricShare(streams, masks, shapes, x[:, cols], labels[cols], a, b,
                                self.micro_batches, self.micro_batch, self.store.spec,
                                self.seed, self.step_count)
            futures.append(self.client.submit(
                run_share, share, self.backend, self.params, self.engine_factory,
                workers=[self.workers[k]], allow_other_workers=True, pure=False))
        from distributed import wait
        wait(futures, timeout=self.timeout)
        results = self.client.gather(futures)
        self.bytes_moved["broadcast"] += size * self.fabrics
        known, losses = {}, {}
        for result in results:
            known.update(result["partials"])
            losses.update(result["losses"])
            self.bytes_moved["gradients"] += sum(v.nbytes for part in result["partials"].values()
                                                 for v in part)
        self.last_cycles = [r["cycles"] for r in results]
        scale = np.float32(1.0 / self.micro_batches)
        grads = []
        for k, mask in enumerate(self.store.masks):
            total = tree_sum({node: v[k] for node, v in known.items()}, 0, self.micro_batches)
            g = np.zeros(mask.shape, dtype=np.float32)
            g[np.asarray(mask, dtype=bool)] = total.view(np.float32) * scale
            grads.append(g)
        loss = float(np.mean([losses[i] for i in range(self.micro_batches)]))
        return loss, grads

    def close(self):
        """Shut the client down, and the cluster if this trainer started it."""
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        self.scheduler.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
