"""The ``wafer gemv`` and ``wafer gemm`` commands: load .npy operands, map them onto the array,
run them on a backend, save the result, report counters."""

import json
from pathlib import Path

import numpy as np

from fabric.workloads import collect_vector, gemv_program
from fabric.workloads.gemm import collect_matrix, gemm_program

from .backends import run_workload

__all__ = ["load_npy", "gemv", "gemm", "report"]


def load_npy(path, what):
    """An array from ``path``, or ``ValueError`` naming the file."""
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ValueError(f"The {what} file {str(path)!r} does not exist") from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"The {what} file {str(path)!r} is not a .npy array: {exc}") from None


def report(result, backend):
    """The ``--json`` summary of a run."""
    return {
        "backend": backend,
        "cycles": result.cycles,
        "fmac_ops": result.total("fmac_issues"),
        "zero_skipped": result.total("zeros_skipped"),
        "wavelets": result.wavelets_in,
        "wavelets_out": sum(len(s) for s in result.outputs.values()),
        "config_cycles": result.config_cycles,
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


def _pe_params(args):
    return {"mem_words": args.mem_words, "max_len": args.max_len}


def gemv(args):
    a = load_npy(args.matrix, "matrix")
    x = load_npy(args.vector, "vector")
    work = gemv_program(a, x, args.rows, args.cols, relu=args.relu, **_pe_params(args))
    result = run_workload(work, args.backend)
    y = collect_vector([result.outputs[o] for o in work.outputs], work.length)
    _finish(args, result, y, f"y = A x ({a.shape[0]} x {a.shape[1]})")


def gemm(args):
    w = load_npy(args.weights, "weights")
    x = load_npy(args.inputs, "inputs")
    work = gemm_program(w, x, args.rows, args.cols, relu=args.relu, **_pe_params(args))
    result = run_workload(work, args.backend)
    m, batch = w.shape[0], x.shape[1]
    y = collect_matrix([result.outputs[o] for o in work.outputs], m, batch)
    _finish(args, result, y, f"Y = W X ({m} x {w.shape[1]} by {x.shape[0]} x {batch})")
