"""Host <-> fabric traffic of training steps, by kind, counted on what the engine sends and
receives.

Every fabric run of a step moves three things: the array program through the configuration
chain (routes, task rows, accumulator images and the memory images that hold the resident
operands), the edge wavelets of its phases (weight streams, gradient positions, drain
commands), and the wavelets that leave the array (results). :func:`workload_traffic`
counts them on the workload the engine hands to the backend and on what came back, by
*role*; :func:`kind_of` names the role's kind from the pass and the layer:

==========================  =========  ====================================================
kind                        direction  what
==========================  =========  ====================================================
``input_batch``             to fabric  memory images of the first layer's input (the batch),
                                       in the forward and the weight-gradient pass
``weights``                 to fabric  non-zero weights streamed (forward ``W``, backward
                                       ``W^T``)
``activations_to_fabric``   to fabric  memory images of a hidden layer's input, in the
                                       forward and the weight-gradient pass
``error_to_fabric``         to fabric  memory images of ``dZ``: the backward-data pass's
                                       operand and the weight-gradient pass's ``dY`` block
``gradient_positions``      to fabric  index wavelets of the weight-gradient pass
``commands``                to fabric  control wavelets (drain commands)
``program``                 to fabric  the rest of the configuration: routes, task rows,
                                       accumulator images, record headers
``activations_to_host``     to host    hidden-layer results (non-zero fp16 only)
``logits``                  to host    the last layer's results (non-zero fp16 only)
``error_to_host``           to host    ``dH = W^T dZ`` (non-zero fp16 only)
``weight_gradients``        to host    fp32 sums, one per position (and per unused slot
                                       of a round's drain)
==========================  =========  ====================================================

Units: one edge wavelet carries a 32-bit payload (:class:`~wafer_engine.rtl.wavelet.Payload`,
:data:`WAVELET_BYTES` = :data:`~wafer_engine.rtl.wavelet.PAYLOAD_BYTES` bytes, the cost
model's :data:`~wafer_engine.sw.swarm.cost.WAVELET_BYTES` too); one configuration chain word
is 32 bits too (:data:`~wafer_engine.rtl.config_chain.WORD_BITS`), and is counted as one
wavelet.
"""

from collections import Counter

from wafer_engine.rtl.config_chain import ITEM_WORDS, ConfigDest
from wafer_engine.rtl.pe.task import Op
from wafer_engine.rtl.wavelet import PAYLOAD_BYTES
from wafer_engine.fabric.program.pe_task import parse_op
from wafer_engine.fabric.program.program import chain_order

__all__ = ["KINDS", "TO_FABRIC", "TO_HOST", "ROLES", "workload_traffic", "kind_of",
           "host_traffic", "traffic_lines", "WAVELET_BYTES"]

TO_FABRIC = ("input_batch", "weights", "activations_to_fabric", "error_to_fabric",
             "gradient_positions", "commands", "program")
TO_HOST = ("activations_to_host", "logits", "error_to_host", "weight_gradients")
#: Every kind, host to fabric first.
KINDS = TO_FABRIC + TO_HOST
#: What :func:`workload_traffic` tells apart: configuration other than operands, the resident
#: operand ``X`` and the weight gradient's ``dY`` block (memory images), data and control
#: wavelets in at the edges, wavelets out.
ROLES = ("program", "x", "dy", "stream", "commands", "results")

#: Bytes of a wavelet's payload, what a wavelet carries for the host (4).
WAVELET_BYTES = PAYLOAD_BYTES
#: A configuration record's header: two chain words.
_HEADER_WORDS = 2


def _dy_starts(program):
    """``{tile: address}``: where each tile's GRAD or GRAD_ACC task reads ``dY`` (its
    ``mem_b``)."""
    out = {}
    for tile, pe in program.pes.items():
        for task in pe.tasks.values():
            if parse_op(task.op, "?") in (Op.GRAD, Op.GRAD_ACC):
                out[tile] = task.mem_b
    return out


def workload_traffic(work, outputs):
    """``Counter`` of :data:`ROLES` in wavelets for one run of ``work`` (a
    :class:`~wafer_engine.fabric.workloads.common.Workload`): its configuration chain words
    (memory words at or past a GRAD or GRAD_ACC task's ``mem_b`` are ``dy``, other memory
    words ``x``, everything else ``program``), its phases' edge wavelets (``commands`` if
    control, else ``stream``), and the wavelets of ``outputs`` (``{edge: [(cycle, Wavelet)]}``,
    what left the array) as ``results``."""
    program = work.program
    order = chain_order(program.rows, program.cols)
    dy_from = _dy_starts(program)
    count = Counter()
    for record in program.config_records():
        dest = ConfigDest(record.dest)
        count["program"] += _HEADER_WORDS
        items = len(record.items)
        if dest != ConfigDest.MEM:
            count["program"] += items * ITEM_WORDS[dest]
            continue
        start = dy_from.get(order[record.hops])
        dy = 0 if start is None else max(0, record.addr + items - max(start, record.addr))
        count["dy"] += dy * ITEM_WORDS[dest]
        count["x"] += (items - dy) * ITEM_WORDS[dest]
    for phase in work.phases:
        for stream in phase.values():
            for w in stream:
                count["commands" if w.control else "stream"] += 1
    count["results"] += sum(len(s) for s in outputs.values())
    return count


def kind_of(pass_name, layer, role, layers):
    """The kind (:data:`KINDS`) of ``role`` traffic in the pass ``pass_name`` (``"forward"``,
    ``"backward_data"``, ``"weight_grad"``) of layer ``layer`` of ``layers``."""
    if role in ("program", "commands"):
        return role
    operand = "input_batch" if layer == 0 else "activations_to_fabric"
    kinds = {
        "forward": {"x": operand, "stream": "weights",
                    "results": "logits" if layer == layers - 1 else "activations_to_host"},
        "backward_data": {"x": "error_to_fabric", "stream": "weights",
                          "results": "error_to_host"},
        "weight_grad": {"x": operand, "dy": "error_to_fabric", "stream": "gradient_positions",
                        "results": "weight_gradients"},
    }[pass_name]
    if role not in kinds:
        raise ValueError(f"The {pass_name} pass moves no {role!r} traffic")
    return kinds[role]


def _amount(wavelets):
    return {"wavelets": wavelets, "bytes": wavelets * WAVELET_BYTES}


def host_traffic(tally, layers, steps):
    """The ``host_traffic`` report of an engine's ``tally`` (``{(pass, layer, role):
    wavelets}``) over ``steps`` training steps of a ``layers``-layer model: per kind, the
    run's wavelets and bytes and their mean per step, totals per direction, and
    ``weight_and_gradient_bytes`` (weights in plus gradients out, the traffic weight
    streaming cannot avoid) for comparison."""
    run = Counter({kind: 0 for kind in KINDS})
    for (pass_name, layer, role), wavelets in tally.items():
        run[kind_of(pass_name, layer, role, layers)] += wavelets
    per = max(steps, 1)

    def block(kinds):
        return {k: {"run": _amount(run[k]), "per_step": _amount(run[k] / per)} for k in kinds}

    def total(kinds):
        n = sum(run[k] for k in kinds)
        return {"run": _amount(n), "per_step": _amount(n / per)}

    essential = (run["weights"] + run["weight_gradients"]) * WAVELET_BYTES
    return {"steps": steps, "wavelet_bytes": WAVELET_BYTES,
            "to_fabric": block(TO_FABRIC), "to_host": block(TO_HOST),
            "total": {"to_fabric": total(TO_FABRIC), "to_host": total(TO_HOST)},
            "weight_and_gradient_bytes": {"run": essential, "per_step": essential / per}}


def traffic_lines(report):
    """A Markdown table of a :func:`host_traffic` ``report``: per kind, wavelets and bytes
    per step (mean over the run's steps) and for the run."""
    lines = [f"| kind | direction | wavelets / step | bytes / step | bytes, {report['steps']} "
             f"steps |", "|---|---|---|---|---|"]
    for direction, label in (("to_fabric", "to fabric"), ("to_host", "to host")):
        for kind, amount in report[direction].items():
            lines.append(f"| {kind} | {label} | {amount['per_step']['wavelets']:,.0f} | "
                         f"{amount['per_step']['bytes']:,.0f} | {amount['run']['bytes']:,} |")
        total = report["total"][direction]
        lines.append(f"| all | {label} | {total['per_step']['wavelets']:,.0f} | "
                     f"{total['per_step']['bytes']:,.0f} | {total['run']['bytes']:,} |")
    essential = report["weight_and_gradient_bytes"]
    lines += ["", f"Weights in and gradients out: {essential['per_step']:,.0f} bytes per step, "
                  f"{essential['run']:,} for the run."]
    return lines
