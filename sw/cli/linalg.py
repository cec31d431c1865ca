"""The ``wafer gemv`` and ``wafer gemm`` commands: load .npy operands, map them onto the array,
run them on a backend, save the result, report counters."""

import json
from pathlib import Path

import numpy as np

from wafer_engine.fabric.workloads import collect_vector, gemv_program
from wafer_engine.fabric.workloads.gemm import collect_matrix, gemm_program

from wafer_engine.rtl.params import ArrayParams
from wafer_engine.sw.backends.run import run_workload
from wafer_engine.sw.cli.array_flags import array_params, given_array_flags

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
        print(f"{what} on a {args.params.rows}x{args.params.cols} array ({args.backend}): "
              f"{summary['cycles']} cycles, {summary['fmac_ops']} FMACs, "
              f"{summary['zero_skipped']} zeros skipped; wrote {args.out}")


def _array(args):
    """The array to run on: the board's build with ``--board`` (then no array flag may be
    given), else the default array with the flags given; also kept as ``args.params``."""
    given = given_array_flags(args)
    if args.board is not None:
        from wafer_engine.sw.flows.board_build import board
        spec = board(args.board)
        if args.backend != "fpga":
            raise ValueError(f"--board {args.board} needs --backend fpga, not "
                             f"{args.backend!r}")
        if given:
            from wafer_engine.sw.flows.fpga_build import describe
            raise ValueError(f"--board {args.board} fixes the array: {describe(spec.params)}; "
                             f"drop {', '.join(given)}")
        args.params = spec.params
    else:
        args.params = array_params(args, ArrayParams())
    return args.params


def _run(args, work):
    """Run ``work`` on the chosen backend; the fpga backend opens ``--port``."""
    if args.backend != "fpga":
        if args.port is not None:
            raise ValueError(f"--port is for the fpga backend, not {args.backend!r}")
        return run_workload(work, args.backend)
    if args.port is None:
        raise ValueError("The fpga backend needs --port, the board's serial port "
                         "(e.g. /dev/ttyUSB0)")
    from wafer_engine.sw.hostlink.client import open_serial
    with open_serial(args.port, args.baud) as link:
        return run_workload(work, "fpga", link)


def gemv(args):
    params = _array(args)
    a = load_npy(args.matrix, "matrix")
    x = load_npy(args.vector, "vector")
    work = gemv_program(a, x, params, relu=args.relu)
    result = _run(args, work)
    y = collect_vector([result.outputs[o] for o in work.outputs], work.length)
    _finish(args, result, y, f"y = A x ({a.shape[0]} x {a.shape[1]})")


def gemm(args):
    params = _array(args)
    w = load_npy(args.weights, "weights")
    x = load_npy(args.inputs, "inputs")
    work = gemm_program(w, x, params, relu=args.relu)
    result = _run(args, work)
    m, batch = w.shape[0], x.shape[1]
    y = collect_matrix([result.outputs[o] for o in work.outputs], m, batch)
    _finish(args, result, y, f"Y = W X ({m} x {w.shape[1]} by {x.shape[0]} x {batch})")
