"""Cost model (modelled, not measured) of one data-parallel weight-streaming training step.

K systems each hold a fabric; the host (MemoryX role) keeps the weights and applies the
optimizer; a SwarmX tree of fan-in ``f`` broadcasts each step's weight streams to the K
fabrics and sums their gradients on the way back. The step time is the sum of four terms,
with no overlap between them (an upper bound: the real system streams while it computes):

* fabric: the slowest fabric's cycles / clock;
* broadcast: one fabric's stream bytes / link bandwidth, times the hops from the host to a
  fabric, ``1 + ceil(log_f K)`` (one link from the host into the tree, then one per level;
  store and forward at every level);
* reduce: one fabric's gradient bytes (its partial sums, see :mod:`.tree`) / link bandwidth,
  times the same hops (a tree node adds its children's streams at line rate);
* update: the optimizer on the host, ``bytes per parameter x parameters / host bandwidth``.

Bytes follow the wire format of the engine: a streamed weight is one 32-bit wavelet (fp16
value, 16-bit index), the forward pass streams W and the backward-data pass W^T (not for the
first layer, whose input gradient nobody needs), the weight-gradient pass needs the mask's
positions (sent as a bitmap, one bit per weight), and a gradient returns as fp32 per mask
position. Fabric cycles come from the fast model's closed forms
(:func:`~wafer_engine.fabric.fast.gemm.gemm_cycles`, :func:`~wafer_engine.fabric.fast.gemm.wgrad_cycles`),
or from a run's counters. docs/scale.md states every assumption and its source.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from wafer_engine.rtl.wavelet import PAYLOAD_BYTES
from wafer_engine.fabric.fast.gemm import gemm_cycles, wgrad_cycles
from wafer_engine.fabric.workloads.common import split
from wafer_engine.fabric.workloads.wgrad import grad_slots

from wafer_engine.sw.swarm.tree import check_counts, cover, shares

__all__ = ["SwarmParams", "LayerTraffic", "StepTime", "WAVELET_BYTES", "GRADIENT_BYTES",
           "layer_traffic", "mlp_traffic", "dense_traffic", "tree_hops", "fabric_bytes",
           "step_bytes", "step_time", "weak_scaling", "layer_cycles"]

#: Bytes of one streamed weight: a wavelet's 32-bit payload (fp16 value, 16-bit index).
WAVELET_BYTES = PAYLOAD_BYTES
#: Bytes of one gradient on its way back: fp32.
GRADIENT_BYTES = 4


def _positive(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{what} must be a positive number, not {value!r}")


@dataclass(frozen=True)
class SwarmParams:
    """The systems around the fabrics. ``clock_hz``: fabric clock (Hz); ``link_bytes_per_s``:
    bandwidth of one link of the broadcast-reduce tree, each direction (bytes/s);
    ``fanin``: children per tree node (2 or more); ``host_bytes_per_s``: memory bandwidth of
    the host's optimizer (bytes/s); ``update_bytes_per_param``: bytes the optimizer reads and
    writes per parameter (Adam in fp32: reads w, g, m, v, writes w, m, v: 28)."""
    clock_hz: float = 1.1e9
    link_bytes_per_s: float = 1.2e12 / 8
    fanin: int = 4
    host_bytes_per_s: float = 200e9
    update_bytes_per_param: int = 28

    def __post_init__(self):
        _positive(self.clock_hz, "Clock (Hz)")
        _positive(self.link_bytes_per_s, "Link bandwidth (bytes/s)")
        _positive(self.host_bytes_per_s, "Host bandwidth (bytes/s)")
        if isinstance(self.fanin, bool) or not isinstance(self.fanin, int) or self.fanin < 2:
            raise ValueError(f"Tree fan-in must be an integer of at least 2, not "
                             f"{self.fanin!r}")
        if (isinstance(self.update_bytes_per_param, bool)
                or not isinstance(self.update_bytes_per_param, int)
                or self.update_bytes_per_param < 0):
            raise ValueError(f"Update bytes per parameter must be a non-negative integer, "
                             f"not {self.update_bytes_per_param!r}")


@dataclass(frozen=True)
class LayerTraffic:
    """What one layer moves per step: W is ``m`` x ``n``; ``weights``: non-zero weights
    streamed (each pass); ``positions``: mask positions (gradients returned, parameters
    updated); ``backward_data``: whether W^T streams too (every layer but the first)."""
    m: int
    n: int
    weights: int
    positions: int
    backward_data: bool = True

    @property
    def broadcast_bytes(self):
        """Bytes one fabric receives for this layer in one step."""
        passes = 2 if self.backward_data else 1
        return WAVELET_BYTES * self.weights * passes + math.ceil(self.m * self.n / 8)

    @property
    def gradient_bytes(self):
        """Bytes of one gradient of this layer (one partial sum)."""
        return GRADIENT_BYTES * self.positions


def layer_traffic(weights, mask, backward_data=True):
    """:class:`LayerTraffic` of a layer's fp32 ``weights`` and boolean ``mask``: the weights
    sent are the mask's whose fp16 value is not zero (zeros are never streamed)."""
    mask = np.asarray(mask, dtype=bool)
    half = np.asarray(weights, dtype=np.float32)[mask].astype(np.float16).view(np.uint16)
    return LayerTraffic(mask.shape[0], mask.shape[1], int(np.count_nonzero(half & 0x7FFF)),
                        int(np.count_nonzero(mask)), backward_data)


def mlp_traffic(weights, masks):
    """:class:`LayerTraffic` of every layer of an MLP (the first without backward data)."""
    return [layer_traffic(w, m, k > 0) for k, (w, m) in enumerate(zip(weights, masks))]


def dense_traffic(m, n, density=1.0, backward_data=True):
    """:class:`LayerTraffic` of an ``m`` x ``n`` layer of which a fraction ``density`` of the
    weights is non-zero (1: dense)."""
    if not 0 < density <= 1:
        raise ValueError(f"Density must be in (0, 1], not {density!r}")
    kept = round(density * m * n)
    return LayerTraffic(m, n, kept, kept, backward_data)


def tree_hops(fabrics, fanin):
    """Links from the host to a fabric: one into the tree plus ``ceil(log_fanin K)``
    levels (computed on integers)."""
    check_counts(fabrics, fabrics)
    levels, reach = 0, 1
    while reach < fabrics:
        reach *= fanin
        levels += 1
    return 1 + levels


def fabric_bytes(layers):
    """Bytes one fabric receives per step for ``layers`` (:class:`LayerTraffic` list)."""
    return sum(layer.broadcast_bytes for layer in layers)


def step_bytes(layers, fabrics, micro_batches=None):
    """Bytes one step moves between the host and ``fabrics`` fabrics: ``{"broadcast": ...,
    "gradients": ...}``. Every fabric receives every stream; each sends back one gradient
    per tree node of its micro-batches (:func:`~.tree.cover`). ``micro_batches``: per
    global batch (default: one per fabric)."""
    micro_batches = fabrics if micro_batches is None else micro_batches
    partials = sum(len(cover(a, b, micro_batches)) for a, b in shares(micro_batches, fabrics))
    return {"broadcast": fabrics * fabric_bytes(layers),
            "gradients": partials * sum(layer.gradient_bytes for layer in layers)}


@dataclass(frozen=True)
class StepTime:
    """One step's modelled time by term, in seconds."""
    fabric: float
    broadcast: float
    reduce: float
    update: float
    terms: tuple = field(default=("fabric", "broadcast", "reduce", "update"), repr=False)

    @property
    def total(self):
        return self.fabric + self.broadcast + self.reduce + self.update

    def largest(self, exclude=()):
        """Name of the largest term, leaving out the names in ``exclude``."""
        return max((getattr(self, t), t) for t in self.terms if t not in exclude)[1]


def step_time(fabric_cycles, layers, fabrics, swarm=None, micro_batches=None):
    """:class:`StepTime` of one step on ``fabrics`` systems. ``fabric_cycles``: each fabric's
    cycles for its share of the step (a list), or one count for all; ``layers``:
    :class:`LayerTraffic` list; ``swarm``: :class:`SwarmParams` (default the defaults)."""
    swarm = SwarmParams() if swarm is None else swarm
    micro_batches = fabrics if micro_batches is None else micro_batches
    check_counts(fabrics, micro_batches)
    cycles = list(fabric_cycles) if np.ndim(fabric_cycles) else [fabric_cycles] * fabrics
    if len(cycles) != fabrics or min(cycles) < 0:
        raise ValueError(f"Need {fabrics} non-negative fabric cycle counts, not {cycles!r}")
    hops = tree_hops(fabrics, swarm.fanin)
    partials = max(len(cover(a, b, micro_batches)) for a, b in shares(micro_batches, fabrics))
    link = swarm.link_bytes_per_s
    return StepTime(
        fabric=max(cycles) / swarm.clock_hz,
        broadcast=hops * fabric_bytes(layers) / link,
        reduce=hops * partials * sum(layer.gradient_bytes for layer in layers) / link,
        update=(sum(layer.positions for layer in layers) * swarm.update_bytes_per_param
                / swarm.host_bytes_per_s))


def weak_scaling(fabric_cycles, layers, fabric_counts, swarm=None):
    """``[(K, StepTime, efficiency)]`` for each K in ``fabric_counts``, every fabric doing
    ``fabric_cycles`` (one fabric's step: the per-fabric batch stays fixed, so the global
    batch grows with K); efficiency ``T(1) / T(K)``."""
    one = step_time(fabric_cycles, layers, 1, swarm).total
    out = []
    for k in fabric_counts:
        t = step_time(fabric_cycles, layers, k, swarm)
        out.append((k, t, one / t.total))
    return out


def layer_cycles(m, n, batch, params, density=1.0):
    """Closed-form fabric cycles of one ``m`` x ``n`` layer's step on the array ``params``
    (an :class:`~wafer_engine.rtl.params.ArrayParams`) for ``batch`` samples, a fraction
    ``density`` of the weights non-zero, spread evenly over the columns: ``{"forward": ...,
    "backward_data": ..., "weight_grad": ...}``. Every result is assumed sent (an upper
    bound), and the PE's memory and the 16-bit index are not checked: this sizes arrays far
    beyond what the mappings accept."""
    if not 0 < density <= 1:
        raise ValueError(f"Density must be in (0, 1], not {density!r}")
    for name, value in (("Output count", m), ("Input count", n), ("Batch", batch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, not {value!r}")
    rows, cols = params.rows, params.cols
    forward = [round(density * m * len(f)) for f in split(n, cols)]
    backward = [round(density * n * len(f)) for f in split(m, cols)]
    return {"forward": gemm_cycles(forward, m, batch, rows),
            "backward_data": gemm_cycles(backward, n, batch, rows),
            "weight_grad": wgrad_cycles(forward, batch, rows, grad_slots(params.pe))}
