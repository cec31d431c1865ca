"""Deterministic traffic: link senders with per-color queues, and random backpressure patterns.

The same objects drive the RTL testbench and the cycle model, so both see identical stimulus.
"""

from collections import deque

import numpy as np

from wafer_engine.fabric.model.arbiter_model import RoundRobinModel

__all__ = ["LinkSender", "Backpressure"]


class LinkSender:
    """The upstream side of one link: a queue per color, round-robin among ready colors.

    Each cycle :meth:`offer` picks the first color (round-robin after the last sent one) that has
    a wavelet queued and whose ready bit is set; if none is ready but some color has data, it
    offers that color anyway (no transfer happens), which exercises the receiver's hold rule.
    A paused cycle offers nothing. :meth:`commit` pops the offered wavelet if it transferred.
    """

    def __init__(self, colors, wavelets=()):
        self.colors = colors
        self.queues = [deque() for _ in range(colors)]
        self.arbiter = RoundRobinModel(colors)
        self.sent = 0
        for w in wavelets:
            self.push(w)

    def push(self, wavelet):
        self.queues[wavelet.color].append(wavelet)

    @property
    def pending(self):
        return sum(len(q) for q in self.queues)

    def offer(self, ready_mask, paused=False):
        """The wavelet to drive this cycle, or ``None``."""
        if paused:
            self._offered = None
            return None
        requests = [bool(q) and (ready_mask >> c) & 1 for c, q in enumerate(self.queues)]
        grant = self.arbiter.grant(requests)
        if grant is None:
            waiting = [c for c, q in enumerate(self.queues) if q]
            self._offered = self.queues[waiting[0]][0] if waiting else None
        else:
            self._offered = self.queues[grant][0]
        return self._offered

    def commit(self, ready_mask):
        """End of cycle: pop the offered wavelet if the receiver took it; returns it or ``None``."""
        w = self._offered
        if w is None or not (ready_mask >> w.color) & 1:
            return None
        self.queues[w.color].popleft()
        self.arbiter.advance(w.color)
        self.sent += 1
        return w


class Backpressure:
    """Random per-cycle pauses for senders and ready masks for receivers, from one seed.

    ``pause(cycle, port)`` is True with probability ``pause_rate``; ``ready(cycle, port)`` is a
    ``colors``-bit mask whose bits are set independently with probability ``1 - stall_rate``.
    Values are computed in blocks from ``(seed, block)``, so any cycle can be asked in any order.
    """

    BLOCK = 4096

    def __init__(self, seed, colors, ports=5, pause_rate=0.0, stall_rate=0.0, stalled_colors=()):
        self.seed, self.colors, self.ports = seed, colors, ports
        self.pause_rate, self.stall_rate = pause_rate, stall_rate
        self.stalled_mask = sum(1 << c for c in stalled_colors)
        self._blocks = {}

    def _block(self, b):
        if b not in self._blocks:
            rng = np.random.default_rng([self.seed, b])
            pause = rng.random((self.BLOCK, self.ports)) < self.pause_rate
            bits = rng.random((self.BLOCK, self.ports, self.colors)) >= self.stall_rate
            weights = 1 << np.arange(self.colors, dtype=np.int64)
            ready = (bits * weights).sum(axis=2) & ~self.stalled_mask
            self._blocks = {b: (pause.tolist(), ready.tolist())}
        return self._blocks[b]

    def pause(self, cycle, port):
        return self._block(cycle // self.BLOCK)[0][cycle % self.BLOCK][port]

    def ready(self, cycle, port):
        return self._block(cycle // self.BLOCK)[1][cycle % self.BLOCK][port]
