"""Two GEMM layers, ``Y2 = W2 relu(W1 X)``, with layer 1's results scattered back into each
array row through range filters as layer 2's resident X (brief section 4).

Layer 1 is the weight-streaming GEMM of :mod:`.gemm` (X resident, batch split across rows, the
non-zero ``W1`` streamed). Its chain reduction ends, as there, in the last column, whose PE
finalises ``Y1 = relu(...)`` (fp16, zeros dropped, index ``i * L + b``). Instead of leaving
through the east edge, that stream turns west along the row, and every router delivers to its
PE only the indices of the layer-2 features its column owns (RAMP range filter), where a STORE
task writes them into the layer-2 block in MAC layout.

Why the last column owns no layer-2 features: the PE that finalises a result cannot receive it,
since its output enters its own router on RAMP and a router never sends a wavelet back out of
the port it came from (routes have no U-turns). Layer 2 therefore runs its features on columns
``0 .. C-2`` and its chain ends in column ``C-2``; column ``C-1`` only passes layer 2's results
through to the east edge. A stack of more layers would alternate the chain direction, leaving
column 0 idle in the next layer. A 1-column array cannot scatter at all (a change of the PE,
storing its own results locally, would be needed).

Stages. Three colors suffice (the RTL regressions' builds) because the fabric is reconfigured
through the configuration chain between stages, while it is quiet; memories and accumulators
keep their contents, since a stage's program only writes what it lists:

1. program ``layer1``: the GEMM tasks and routes, X in mem, zero images over the accumulators
   and over the layer-2 block (results that are zero are never sent, so the block must start
   at +0); phase: the non-zero ``W1``.
2. program ``scatter``: color 0 becomes the scatter color (STORE tasks, routes west along each
   row with range filters), the last column's REDUCE sends on it, column 0's drain task takes
   data wavelets from the west edge; phases: the chain steps, ``out_depth`` at a time (see
   :func:`_drain_phases`: all at once can deadlock).
3. program ``layer2``: the GEMM tasks of layer 2 on columns ``0 .. C-2`` (MAC reading the
   stored block, zero images over its accumulators), column ``C-1`` a pass-through; phases: the
   non-zero ``W2``, then the drain command. Results leave east: :func:`~.gemm.collect_matrix`.
"""

from dataclasses import dataclass

import numpy as np

from wafer_engine.rtl.params import ArrayParams
from wafer_engine.rtl.pe import Command
from wafer_engine.rtl.ports import Port
from wafer_engine.rtl.route import Route

from wafer_engine.fabric.model.array_model import ArrayModel
from wafer_engine.fabric.program.pe_task import Task
from wafer_engine.fabric.program.program import ArrayProgram, TileProgram
from wafer_engine.fabric.model.wavelet import Wavelet
from wafer_engine.fabric.workloads.common import Workload, check_finite, split, to_fp16_bits
from wafer_engine.fabric.workloads.gemm import (DRAIN_COLOR, PARTIAL_COLORS, W_COLOR,
                                                feature_index_bits, check_gemm_shape, gemm_program)

__all__ = ["Stage", "two_layer_program", "load_program", "run_stages", "SCATTER_COLOR"]

#: Layer 1's results travel west on the weight color, free once the weights are in.
SCATTER_COLOR = W_COLOR
_NONE = Task("NONE")


@dataclass
class Stage:
    """One step of a multi-program workload: load ``work.program`` through the configuration
    chain (after the array went quiet), then feed ``work.phases`` one after the other."""
    name: str
    work: Workload


def load_program(model, program):
    """Apply ``program``'s configuration to a running :class:`~wafer_engine.fabric.model.array_model.ArrayModel`
    ``model``, write for write as the configuration chain applies it to the RTL: every route
    row of the tiles it names, and their PE's task rows and memory images (what it does not
    list keeps its contents). Use while the array is quiet."""
    if (program.rows, program.cols, program.colors) != (model.rows, model.cols, model.colors):
        raise ValueError(f"A {program.rows}x{program.cols} program with {program.colors} "
                         f"colors cannot be loaded into a {model.rows}x{model.cols} array "
                         f"with {model.colors}")
    for tile, routes in program.routes.items():
        for color, route in enumerate(routes):
            model.routers[tile].configure(color, route)
    for tile, pe in program.pes.items():
        for write in pe.config_writes():
            model.pes[tile].configure(*write)


def run_stages(stages, model=None):
    """Run ``stages`` on the cycle-exact model: a fresh one for the first program, unless
    ``model`` is given (then every program is loaded into it with :func:`load_program`). Returns ``(model, cycles, span)``:
    each phase's cycle count, and the cycles from the first wavelet the array took in to the
    last one it sent out (configuration time between stages excluded, as the model does not
    step while the chain loads), or to the end if nothing left."""
    first_in, cycles = None, []
    for stage in stages:
        if model is None:
            model = ArrayModel(stage.work.program)
        else:
            load_program(model, stage.work.program)
        for phase in stage.work.phases:
            model.feed(phase)
            start = model.cycle
            first_in = model.run_to_quiet(first_in)
            cycles.append(model.cycle - start)
    last_out = max((c for s in model.outputs.values() for c, _ in s), default=None)
    end = model.cycle if last_out is None else last_out + 1
    return model, cycles, 0 if first_in is None else end - first_in


def _check_layers(m1, n1, m2, batch, params):
    """Both layers' GEMM limits (layer 2 on ``cols - 1`` columns with ``m1`` features), and the
    mem both X blocks need together; returns the validated PE parameters."""
    rows, cols = params.rows, params.cols
    p = check_gemm_shape(m1, n1, batch, params)
    check_gemm_shape(m2, m1, batch, params.replace(cols=cols - 1))
    length, feats = len(split(batch, rows)[0]), len(split(n1, cols)[0])
    need = feats * length + m1 * length
    if need > p.mem_words:
        raise ValueError(f"The X block ({feats} x {length}) and layer 1's results "
                         f"({m1} x {length}) need {need} words of mem per PE; the PE has "
                         f"mem_words {p.mem_words}")
    return p


def two_layer_program(w1, x, w2, params=None, relu1=True, relu2=False):
    """``Y2 = W2 relu(W1 X)`` (``relu1``, ``relu2``: ReLU after each layer) on the array
    ``params`` (an :class:`~wafer_engine.rtl.params.ArrayParams`, default the default array), as a list of three :class:`Stage` (see the module's text). W1: M1 x N1,
    X: N1 x B, W2: M2 x M1; values are rounded to fp16 on entry, and Y1 is rounded to fp16
    where it is stored. Decode the last stage's east-edge outputs with
    ``collect_matrix(streams, M2, B)``.

    Raises ``ValueError`` (naming the values) for mismatched, empty or non-finite operands,
    fewer than 2 columns, and problems that do not fit: each layer's GEMM limits
    (:func:`~.gemm.check_gemm_shape`, layer 2 on ``cols - 1`` columns with M1 features) and
    the mem of both X blocks.
    """
    params = ArrayParams() if params is None else params
    rows, cols = params.rows, params.cols
    if cols == 1:
        raise ValueError("Scattering layer 1's results back needs at least 2 array columns, "
                         "not 1: the last column's PE finalises them and cannot deliver them "
                         "to itself (a route never sends a wavelet back out of the port it "
                         "came from)")
    w2 = np.asarray(w2, dtype=np.float64)
    m1 = np.shape(w1)[0] if np.ndim(w1) == 2 else None
    if w2.ndim != 2 or m1 is None or w2.shape[1] != m1:
        raise ValueError(f"Matrix W2 of shape {w2.shape} cannot multiply the results of W1 "
                         f"of shape {np.shape(w1)}")
    check_finite("The matrix W2", w2)
    layer1 = gemm_program(w1, x, params, relu=relu1)
    n1, batch = np.shape(x)
    m2 = w2.shape[0]
    _check_layers(m1, n1, m2, batch, params)
    batch_parts, feats1 = split(batch, rows), split(n1, cols)
    feats2 = split(m1, cols - 1)
    base = len(feats1[0]) * len(batch_parts[0])     # layer 2's block, past every X block

    # Stage 1: layer 1 as gemm_program builds it, plus the zeroed layer-2 block.
    tiles = {}
    for tile, t in layer1.program.tiles.items():
        length = len(batch_parts[tile[0]])
        mem = dict(t.mem)
        mem[base] = [0] * (m1 * length)
        tiles[tile] = TileProgram(dict(t.routes), dict(t.tasks), mem, dict(t.acc))
    stage1 = Workload(ArrayProgram(params, tiles, layer1.program.inputs),
                      layer1.phases[:1], [], 0)

    # Stage 2: the chain as in layer 1, its end turned west onto the scatter color, driven
    # from the west edge in bursts (see _drain_phases).
    tiles = {}
    for (r, c), t in layer1.program.tiles.items():
        length = len(batch_parts[r])
        routes, tasks = dict(t.routes), dict(t.tasks)
        last = c == cols - 1
        if c == 0:
            routes[DRAIN_COLOR] = Route(frozenset({Port.W}), frozenset({Port.RAMP}))
        if last:
            del routes[PARTIAL_COLORS[c % 2]]
            p_in = PARTIAL_COLORS[(c - 1) % 2]
            tasks[p_in] = Task("REDUCE", len=m1 * length, acc=0, out_color=SCATTER_COLOR,
                               sparse_out=True, relu=relu1)
            routes[SCATTER_COLOR] = Route(frozenset({Port.RAMP}), frozenset({Port.W}))
            tasks[SCATTER_COLOR] = _NONE
        else:
            f = feats2[c]
            routes[SCATTER_COLOR] = Route(
                frozenset({Port.E}), frozenset({Port.RAMP} | ({Port.W} if c else set())),
                lo=f.start * length, hi=f.stop * length - 1)
            tasks[SCATTER_COLOR] = Task("STORE", mem_a=base, rows=f.stop * length)
        tiles[(r, c)] = TileProgram(routes, tasks)
    inputs = {(Port.W, r): [] for r in range(rows)}
    program = ArrayProgram(params, tiles, inputs)
    lengths = [m1 * len(b) for b in batch_parts]
    stage2 = Workload(program, _drain_phases(lengths, params.pe.out_depth), [], 0)

    stage3 = _layer2(w2, base, rows, cols, batch_parts, feats2, relu2, params)
    return [Stage("layer1", stage1), Stage("scatter", stage2), Stage("layer2", stage3)]


def _drain_phases(lengths, burst):
    """Phases that reduce row ``r``'s ``lengths[r]`` partial sums ``burst`` at a time: each
    ``Wavelet(DRAIN_COLOR, 0)`` entering row ``r`` at the west edge makes column 0's REDUCE
    send ``+0 + acc[k]`` (``acc[k]`` itself but for the sign of a zero and a subnormal, which
    the next column's add ignores anyway: DAZ) into the chain.

    Why bursts: a PE between the chain's start and end both sends partial sums east and stores
    results arriving from the east, through one input FIFO and one output FIFO. Each waiting
    on the other's input (the PE's output FIFO full of partial sums east, the east PE's output
    FIFO full of results west) is a lock; a PE whose whole pipeline stalled on a full output
    FIFO reached it when draining all at once. With output credits that run completes
    (tests/test_array_layers.py), but no argument rules the lock out in general, so: with at
    most ``burst = out_depth`` chain steps per phase, every PE's outputs of the phase have
    their credits in its own output FIFO, so no PE ever waits to issue and each takes in
    whatever reaches it; the phase barrier (the array quiet) empties the FIFOs before the next
    burst.
    """
    phases = []
    for start in range(0, max(lengths), burst):
        phases.append({(Port.W, r): [Wavelet(DRAIN_COLOR, 0)] * min(burst, n - start)
                       for r, n in enumerate(lengths) if n > start})
    return phases


def _layer2(w2, base, rows, cols, batch_parts, feats2, relu, params):
    """Layer 2's GEMM on columns ``0 .. cols-2`` over the stored block; column ``cols-1``
    passes the results of column ``cols-2`` through to the east edge."""
    m2 = w2.shape[0]
    w16 = to_fp16_bits(w2)
    inner = cols - 1
    tiles = {}
    for r, batch_r in enumerate(batch_parts):
        length = len(batch_r)
        down = frozenset({Port.RAMP, Port.S} if r + 1 < rows else {Port.RAMP})
        for c, f in enumerate(feats2):
            last = c == inner - 1
            p_out = PARTIAL_COLORS[c % 2]
            routes = {W_COLOR: Route(frozenset({Port.N}), down),
                      p_out: Route(frozenset({Port.RAMP}), frozenset({Port.E}))}
            tasks = {color: _NONE for color in range(params.colors)}
            tasks[W_COLOR] = Task("MAC", len=length, mem_a=base + f.start * length, acc=0,
                                  zero_skip=True, jbits=feature_index_bits(len(f)), rows=m2, cols=len(f))
            output = dict(out_color=p_out, sparse_out=last, relu=relu and last, index_base=0)
            if c == 0:
                tasks[DRAIN_COLOR] = Task("REDUCE", len=m2 * length, acc=0, **output)
                routes[DRAIN_COLOR] = Route(frozenset({Port.N}), down)
            else:
                p_in = PARTIAL_COLORS[(c - 1) % 2]
                tasks[p_in] = Task("REDUCE", len=m2 * length, acc=0, **output)
                routes[p_in] = Route(frozenset({Port.W}), frozenset({Port.RAMP}))
            tiles[(r, c)] = TileProgram(routes, tasks, acc={0: [0] * (m2 * length)})
        p_end = PARTIAL_COLORS[(inner - 1) % 2]
        tiles[(r, inner)] = TileProgram(
            {p_end: Route(frozenset({Port.W}), frozenset({Port.E}))},
            {color: _NONE for color in range(params.colors)})
    stream = {}
    for c, f in enumerate(feats2):
        jbits = feature_index_bits(len(f))
        stream[(Port.N, c)] = [Wavelet.half(W_COLOR, int(w16[i, j]), (i << jbits) | (j - f.start))
                               for j in f for i in range(m2) if w16[i, j] & 0x7FFF]
    drain = {(Port.N, 0): [Wavelet(DRAIN_COLOR, Command.DRAIN_CLEAR.value, control=1)]}
    inputs = {(Port.N, c): [] for c in range(cols)}
    program = ArrayProgram(params, tiles, inputs)
    batch = sum(len(b) for b in batch_parts)
    return Workload(program, [stream, drain], [(Port.E, r) for r in range(rows)], m2 * batch)
