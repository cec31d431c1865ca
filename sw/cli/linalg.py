"""The ``wafer gemv`` and ``wafer gemm`` commands: load .npy operands, map them onto the array,
run them on a backend, save the result, report counters."""

import json
from pathlib import Path

import numpy as np

from wafer_engine.fabric.workloads import collect_vector, gemv_program
from wafer_engine.fabric.workloads.gemm import collect_matrix, gemm_program

from wafer_engine.sw.backends.run import run_workload

__all__ = ["load_npy", "gemv", "gemm", "report"]


def load_npy(path, what):
    """An array from ``path``, or ``ValueError`` naming the file."""
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ValueError(f"The {what} file {str(path)!r} does not exist") from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"The {what} file {str(path)!r} is not a .npy array: {exc}") from None


#: The ``--json`` keys each :class:`wafer_engine.sw.backends.run.RunResult` field gives.
_KEYS = {"cycles": ("cycles",), "counters": ("fmac_ops", "zero_skipped"),
         "wavelets_in": ("wavelets",), "outputs": ("wavelets_out",),
         "config_cycles": ("config_cycles",)}


def report(result, backend):
    """The ``--json`` summary of a run. ``predicted`` lists the keys whose values the backend
    did not measure but took from the model's prediction (empty when all are measured)."""
    return {
        "backend": backend,
        "cycles": result.cycles,
        "fmac_ops": result.total("fmac_issues"),
        "zero_skipped": result.total("zeros_skipped"),
        "wavelets": result.wavelets_in,
        "wavelets_out": sum(len(s) for s in result.outputs.values()),
        "config_cycles": result.config_cycles,
        "predicted": sorted(k for name in result.predicted for k in _KEYS[name]),
    }


def _save(path, array):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, array)
    tmp.replace(path)


def _finish(args, result, out, what):
    _save(args.out, out)
    summary = report(result, args.backend)
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{what} on a {args.rows}x{args.cols} array ({args.backend}): "
              f"{summary['cycles']} cycles, {summary['fmac_ops']} FMACs, "
              f"{summary['zero_skipped']} zeros skipped; wrote {args.out}")


#: The array and PE when no flag and no board says otherwise.
_DEFAULTS = {"rows": 4, "cols": 4, "colors": 4, "mem_words": 4096, "acc_words": 1024,
             "max_len": 64}


def _array(args):
    """Resolve the array flags: the board's build with ``--board`` (then none of them may be
    given), else each flag or its default; ``args.rows``/``args.cols`` are filled in. Returns
    the PE parameters."""
    given = {k: getattr(args, k) for k in _DEFAULTS if getattr(args, k) is not None}
    if args.board is not None:
        from wafer_engine.sw.flows.board_build import board
        spec = board(args.board)
        if args.backend != "fpga":
            raise ValueError(f"--board {args.board} needs --backend fpga, not "
                             f"{args.backend!r}")
        if given:
            flags = ", ".join("--" + k.replace("_", "-") for k in given)
            raise ValueError(f"--board {args.board} fixes the array ({spec.rows}x{spec.cols}, "
                             f"{spec.pe}); drop {flags}")
        values = {"rows": spec.rows, "cols": spec.cols, **spec.pe}
    else:
        values = {**_DEFAULTS, **given}
    args.rows, args.cols = values.pop("rows"), values.pop("cols")
    return values


def _run(args, work):
    """Run ``work`` on the chosen backend; the fpga backend opens ``--port``."""
    if args.backend != "fpga":
        if args.port is not None:
            raise ValueError(f"--port is for the fpga backend, not {args.backend!r}")
        return run_workload(work, args.backend)
    if args.port is None:
        raise ValueError("The fpga backend needs --port, the board's serial port "
                         "(e.g. /dev/ttyUSB0)")
    from wafer_engine.sw.hostlink.fpga_backend import open_serial
    with open_serial(args.port, args.baud) as link:
        return run_workload(work, "fpga", link)


def gemv(args):
    a = load_npy(args.matrix, "matrix")
    x = load_npy(args.vector, "vector")
    pe = _array(args)
    work = gemv_program(a, x, args.rows, args.cols, relu=args.relu, **pe)
    result = _run(args, work)
    y = collect_vector([result.outputs[o] for o in work.outputs], work.length)
    _finish(args, result, y, f"y = A x ({a.shape[0]} x {a.shape[1]})")


def gemm(args):
    w = load_npy(args.weights, "weights")
    x = load_npy(args.inputs, "inputs")
    pe = _array(args)
    work = gemm_program(w, x, args.rows, args.cols, relu=args.relu, **pe)
    result = _run(args, work)
    m, batch = w.shape[0], x.shape[1]
    y = collect_matrix([result.outputs[o] for o in work.outputs], m, batch)
    _finish(args, result, y, f"Y = W X ({m} x {w.shape[1]} by {x.shape[0]} x {batch})")
