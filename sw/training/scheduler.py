"""The streaming scheduler's host side: prepare each layer's weight stream ahead of the fabric.

At the start of a training step every stream the step will need (each layer's weights for the
forward pass, their transposes for the backward-data pass) is queued on one worker thread in
the order the fabric consumes them; the fabric's calls then collect them as they go, so packing
layer ``l + 1`` overlaps the fabric computing layer ``l``. :class:`StreamScheduler` measures
both sides: ``pack_seconds`` (worker time packing), ``wait_seconds`` (time the fabric's side
waited for a stream not yet ready); ``overlap`` is the hidden share of the packing.
"""

import time
from concurrent.futures import ThreadPoolExecutor

__all__ = ["StreamScheduler"]


class StreamScheduler:
    """Prepares streams with ``prepare(weights, mask, version)`` (an engine's) on a worker
    thread."""

    def __init__(self, prepare):
        self._prepare = prepare
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stream-pack")
        self._pending = {}
        self.pack_seconds = 0.0
        self.wait_seconds = 0.0
        self.streams = 0

    def _timed(self, weights, mask, version):
        start = time.perf_counter()
        out = self._prepare(weights, mask, version)
        self.pack_seconds += time.perf_counter() - start
        return out

    def submit(self, key, weights, mask, version=None):
        """Queue the stream ``key`` (e.g. ``("forward", layer)``); ``version`` names the
        mask's state (the engine may reuse work done for the same version)."""
        self._pending[key] = self._pool.submit(self._timed, weights, mask, version)

    def get(self, key):
        """The stream ``key``, waiting for it if the worker is behind."""
        future = self._pending.pop(key)
        start = time.perf_counter()
        out = future.result()
        self.wait_seconds += time.perf_counter() - start
        self.streams += 1
        return out

    @property
    def overlap(self):
        """Share of the packing time hidden behind the fabric, 0..1 (1 if nothing packed)."""
        if self.pack_seconds == 0:
            return 1.0
        return max(0.0, 1.0 - self.wait_seconds / self.pack_seconds)

    def close(self):
        self._pool.shutdown(wait=True)
