"""Training an MLP by weight streaming (brief section 2: MemoryX, the host's role).

Per step, for a batch ``X`` (features x B):

1. forward, layer by layer on the fabric: ``H_l = relu(W_l H_{l-1})`` (no ReLU on the last);
   activations come back to the host between layers;
2. the host computes the softmax cross-entropy loss of the logits and its gradient
   ``dZ = (softmax - onehot) / B``;
3. backward, last layer first: the weight gradient ``dW_l = dZ H_{l-1}^T`` at the mask's
   positions (fabric), and, below the last layer, ``dH = W_l^T dZ`` (fabric, the weights
   streamed again, transposed), then ``dZ = dH * (H > 0)`` (the ReLU's derivative, on the host);
4. the optimizer updates the fp32 master weights at the mask's positions (host).

A layer with a bias gets a constant-one row appended to its input on the host (the bias is the
last column of its stored matrix, :mod:`wafer_engine.sw.training.mlp`): the forward pass and the
weight gradient include it, the backward-data pass streams ``W^T`` without the bias column. A
layer with dropout gets its input multiplied on the host, in training only, by a fresh mask of
zeros and ``1 / (1 - p)`` (inverted dropout, as PyTorch's); the same mask scales ``dH`` on the
way back. The masks are drawn from ``(seed, step)``, so a resumed run repeats.

The same :class:`Trainer` runs with any engine of :mod:`wafer_engine.sw.training.engines`: the fabric (golden model
or RTL) or the float64 / PyTorch references, so their loss curves can be compared directly.
"""

import time

import numpy as np

from wafer_engine.sw.training.checkpoint import load_checkpoint, save_checkpoint
from wafer_engine.sw.training.data import check_data
from wafer_engine.sw.training.optim import lr_factor
from wafer_engine.sw.training.scheduler import StreamScheduler
from wafer_engine.sw.training.weight_store import check_sparsity

__all__ = ["Trainer", "softmax_xent", "prune_schedule"]


def softmax_xent(logits, labels):
    """Mean softmax cross-entropy of ``logits`` (classes x B) and its gradient with respect
    to the logits, ``(softmax - onehot) / B``, both in float64."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=0, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=0, keepdims=True)
    batch = z.shape[1]
    cols = np.arange(batch)
    loss = -np.mean(np.log(np.maximum(p[labels, cols], 1e-300)))
    p[labels, cols] -= 1.0
    return float(loss), p / batch


def prune_schedule(target, epoch, prune_epochs):
    """Sparsity in force during ``epoch`` (from 0): ``target`` at once when ``prune_epochs``
    is 0, else the cubic ramp ``target (1 - (1 - (epoch + 1) / K)^3)`` reaching it after
    ``K`` epochs (gradual magnitude pruning)."""
    if prune_epochs <= 0:
        return target
    done = min(1.0, (epoch + 1) / prune_epochs)
    return target * (1.0 - (1.0 - done) ** 3)


class Trainer:
    """Trains ``store``'s MLP with ``optimizer`` on ``engine``.

    ``batch``: samples per step (the last, incomplete batch of an epoch is dropped);
    ``seed``: data order (epoch ``e`` shuffles with ``seed + e``, so a resumed run repeats the
    uninterrupted one); ``prune_epochs``: re-prune at the start of each of the first that many
    epochs toward the store's sparsity (0: the masks stay as made). The learning rate stays
    the optimizer's unless :meth:`set_lr_schedule` gives a schedule over the run's epochs.
    """

    def __init__(self, store, optimizer, engine, batch=32, seed=0, prune_epochs=0):
        if not isinstance(batch, int) or batch < 1:
            raise ValueError(f"Batch size must be a positive integer, not {batch!r}")
        self.store, self.optimizer, self.engine = store, optimizer, engine
        self.batch, self.seed, self.prune_epochs = batch, seed, prune_epochs
        self.target_sparsity = list(store.sparsity)
        self.epoch, self.step_count = 0, 0
        # (A fabric's share of a data-parallel step runs a trainer without an optimizer.)
        self.base_lr = getattr(optimizer, "lr", None)
        self.lr_schedule, self.run_epochs = "constant", None
        self.history = {"loss": [], "accuracy": [], "sparsity": []}
        self.scheduler = StreamScheduler(engine.prepare)
        #: Arrays saved with every checkpoint and checked on resume (the input statistics).
        self.extra_arrays = {}
        #: A third key for the dropout draws besides ``(seed, step)``: data-parallel fabrics
        #: set it to the micro-batch index, so every micro-batch draws its own masks whichever
        #: fabric runs it.
        self.dropout_stream = None
        self.fabric_seconds = 0.0

    # -- one step -----------------------------------------------------------------------
    def stream_requests(self, backward):
        """The weight streams a step needs, in the order they are used: ``[(key, weights,
        mask, version)]`` with ``key`` = ``(pass, layer)`` and ``version`` = ``(pass, layer,
        mask_version)`` (what ``engine.prepare`` takes); the backward-data streams are the
        transposes without the bias column."""
        layers, version = len(self.store.weights), self.store.mask_version
        out = [(("forward", k), self.store.weights[k], self.store.masks[k],
                ("forward", k, version)) for k in range(layers)]
        if backward:
            for k in range(layers - 1, 0, -1):
                n = self.store.spec.shapes[k][1]       # without the bias column
                out.append((("backward_data", k), self.store.weights[k][:, :n].T,
                            self.store.masks[k][:, :n].T, ("backward_data", k, version)))
        return out

    def _queue_streams(self, backward):
        for key, weights, mask, version in self.stream_requests(backward):
            self.scheduler.submit(key, weights, mask, version)

    def _timed(self, call, *args):
        start = time.perf_counter()
        out = call(*args)
        self.fabric_seconds += time.perf_counter() - start
        return out

    def dropout_masks(self, batch):
        """The step's dropout multipliers: per layer ``None`` or an ``in_features x batch``
        float32 array of 0 and ``1 / (1 - p)``, drawn from ``(seed, step)``."""
        key = [self.seed, self.step_count]
        rng = np.random.default_rng(key if self.dropout_stream is None
                                    else key + [self.dropout_stream])
        out = []
        for (_, n), p in zip(self.store.spec.shapes, self.store.spec.dropout):
            if p > 0:
                keep = rng.random((n, batch)) >= p
                out.append(keep.astype(np.float32) / np.float32(1 - p))
            else:
                out.append(None)
        return out

    def layer_input(self, k, h, drop=None):
        """What layer ``k`` takes on the fabric: ``h`` (features x B) times its dropout
        multipliers ``drop`` (training), a row of ones below it if the layer has a bias."""
        h = np.asarray(h)
        if drop is not None:
            h = h * drop.astype(h.dtype)
        if self.store.spec.bias[k]:
            h = np.concatenate([h, np.ones((1, h.shape[1]), h.dtype)])
        return np.ascontiguousarray(h)

    def forward(self, x, backward=False, dropout=None):
        """Activations ``[X, H_1, ..., logits]`` of samples ``x`` (features x B), each as the
        next layer took it (``dropout``: per-layer multipliers, :meth:`dropout_masks`; a bias
        layer's input carries its row of ones)."""
        self._queue_streams(backward)
        last = len(self.store.weights) - 1
        dropout = dropout or [None] * (last + 1)
        acts = [self.layer_input(0, x, dropout[0])]
        for k in range(last + 1):
            packed = self.scheduler.get(("forward", k))
            y = self._timed(self.engine.forward, k, packed, self.store.masks[k], acts[-1],
                            k < last)
            acts.append(y if k == last else self.layer_input(k + 1, y, dropout[k + 1]))
        return acts

    def gradients(self, x, labels):
        """``(loss, [dW_l])`` of one batch (no update; dropout as in training)."""
        dropout = self.dropout_masks(x.shape[1])
        acts = self.forward(x, backward=True, dropout=dropout)
        loss, dz = softmax_xent(acts[-1], labels)
        grads = [None] * len(self.store.weights)
        for k in range(len(self.store.weights) - 1, -1, -1):
            mask = self.store.masks[k]
            grads[k] = self._timed(self.engine.weight_grad, k, mask, dz, acts[k])
            if k > 0:
                n = self.store.spec.shapes[k][1]
                packed_t = self.scheduler.get(("backward_data", k))
                dh = self._timed(self.engine.backward_data, k, packed_t, mask[:, :n].T, dz)
                if dropout[k] is not None:
                    dh = dh * dropout[k]
                # acts[k] is the ReLU output after dropout: positive exactly where both let
                # the gradient through.
                dz = dh * (np.asarray(acts[k][:n]) > 0)
        return loss, grads

    def step(self, x, labels):
        """One training step on ``x`` (features x B) and ``labels`` (B,); returns the loss."""
        loss, grads = self.gradients(x, labels)
        self.step_count += 1
        for k, g in enumerate(grads):
            self.optimizer.step(self.store.weights[k],
                                np.asarray(g, dtype=self.store.weights[k].dtype),
                                self.store.masks[k], self.store.state[k], self.step_count)
        return loss

    # -- epochs ---------------------------------------------------------------------------
    def batches(self, samples, epoch):
        """Index arrays of the full batches of ``epoch``, in its shuffled order."""
        order = np.random.default_rng(self.seed + epoch).permutation(samples)
        full = samples // self.batch
        return [order[k * self.batch:(k + 1) * self.batch] for k in range(full)]

    def set_lr_schedule(self, schedule, epochs):
        """Scale the optimizer's learning rate in every epoch by ``lr_factor(schedule, epoch,
        epochs)`` (:func:`~wafer_engine.sw.training.optim.lr_factor`), ``epochs`` being the
        run's total; a resumed run takes the rate of the epoch it resumes at."""
        if not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"Epochs must be a positive integer, not {epochs!r}")
        lr_factor(schedule, 0, epochs)          # the name's check
        self.lr_schedule, self.run_epochs = schedule, epochs

    def train_epoch(self, x, labels, progress=None):
        """One epoch over samples ``x`` (S x features); returns the mean loss."""
        check_data(x, labels, self.store.spec.outputs, self.store.spec.inputs)
        if self.lr_schedule != "constant":
            self.optimizer.lr = self.base_lr * lr_factor(self.lr_schedule, self.epoch,
                                                         self.run_epochs)
        if self.epoch < self.prune_epochs:
            self.store.prune([prune_schedule(t, self.epoch, self.prune_epochs)
                              for t in self.target_sparsity])
        batches = self.batches(len(x), self.epoch)
        if not batches:
            raise ValueError(f"{len(x)} samples make no full batch of {self.batch}")
        losses = []
        for idx in batches:
            losses.append(self.step(np.ascontiguousarray(x[idx].T), labels[idx]))
            if progress is not None:
                progress(losses[-1])
        self.epoch += 1
        return float(np.mean(losses))

    def logits(self, x, min_batch=1):
        """float64 logits (S x classes) of samples ``x`` (S x features) as the engine computes
        them (no dropout), in batches of ``self.batch``; a last batch smaller than
        ``min_batch`` is padded with zero samples."""
        out = []
        for start in range(0, len(x), self.batch):
            chunk = np.ascontiguousarray(x[start:start + self.batch].T)
            pad = max(0, min_batch - chunk.shape[1])
            if pad:
                chunk = np.concatenate([chunk, np.zeros((chunk.shape[0], pad), chunk.dtype)],
                                       axis=1)
            logits = np.asarray(self.forward(chunk)[-1], dtype=np.float64)
            out.append(logits[:, :chunk.shape[1] - pad].T)
        return np.concatenate(out)

    def predict(self, x, min_batch=1):
        """Class predictions for samples ``x`` (S x features), see :meth:`logits`."""
        return np.argmax(self.logits(x, min_batch), axis=1)

    def evaluate(self, x, labels, min_batch=1):
        check_data(x, labels, self.store.spec.outputs, self.store.spec.inputs)
        return float(np.mean(self.predict(x, min_batch) == labels))

    # -- checkpoints ----------------------------------------------------------------------
    def save(self, directory):
        """Checkpoint the store and the run's state, with :attr:`extra_arrays` (the input
        statistics) beside the store's arrays."""
        meta = {"step": self.step_count, "epoch": self.epoch, "history": self.history,
                "optimizer": self.optimizer.name, "batch": self.batch, "seed": self.seed,
                "sparsity": self.target_sparsity, "prune_epochs": self.prune_epochs}
        return save_checkpoint(directory, self.store, meta, self.extra_arrays)

    def resume(self, directory):
        """Continue from the newest checkpoint in ``directory`` (``ValueError`` if missing,
        corrupted, of another model, or made with another optimizer / batch / seed)."""
        meta = load_checkpoint(directory, self.store, expect={
            "optimizer": self.optimizer.name, "batch": self.batch, "seed": self.seed},
            extra=self.extra_arrays)
        self.epoch, self.step_count = meta["epoch"], meta["step"]
        self.history = meta["history"]
        return meta


def check_train_options(sparsity, epochs):
    check_sparsity(sparsity)
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"Epochs must be a positive integer, not {epochs!r}")
