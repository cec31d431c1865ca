"""The ``wafer gemv`` and ``wafer gemm`` commands: check the flags and operands, plan the
passes the problem needs on the array, run them on a backend, save the result atomically,
report counters."""

import json
from contextlib import ExitStack
from pathlib import Path

from wafer_engine.rtl.checks import check_int
from wafer_engine.rtl.params import ArrayParams
from wafer_engine.sw.backends.run import run_workload
from wafer_engine.sw.cli.array_flags import array_params, given_array_flags
from wafer_engine.sw.cli.files import check_output, load_operand, save_npy
from wafer_engine.sw.passes.plan import plan_gemm, plan_gemv
from wafer_engine.sw.passes.run import run_gemm_passes, run_gemv_passes

__all__ = ["gemv", "gemm", "report", "pass_report", "check_board_flags", "backend_runner",
           "check_distinct_files", "plan_for"]


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


def pass_report(plan, runs, backend):
    """The ``--json`` summary of a planned problem: the figures of :func:`report` summed over
    the passes (cycles run back to back), ``passes`` (their number), ``split_n`` (partial sums
    added on the host), the array asked for and, in ``per_pass``, each pass's block, the tiles
    it used and its own figures."""
    per_pass = [dict(r.block.describe(), **report(r.result, backend)) for r in runs]
    for entry in per_pass:
        del entry["backend"]
    total = {k: sum(p[k] for p in per_pass)
             for k in ("cycles", "fmac_ops", "zero_skipped", "wavelets", "wavelets_out",
                       "config_cycles")}
    predicted = sorted({k for p in per_pass for k in p["predicted"]})
    return {"backend": backend, **total, "predicted": predicted, "passes": len(runs),
            "split_n": plan.split_n, "array": [plan.params.rows, plan.params.cols],
            "per_pass": per_pass}


def check_board_flags(args):
    """The array to run on: the board's build with ``--board`` (then no array flag may be
    given), else the default array with the flags given. Also refuses the fpga-only flags
    without ``--backend fpga``. Raises ``ValueError`` naming the flag."""
    given = given_array_flags(args)
    if args.backend != "fpga":
        for name, value in (("--port", args.port), ("--baud", args.baud),
                            ("--board", args.board)):
            if value is not None:
                raise ValueError(f"{name} is for the fpga backend, not {args.backend!r}")
    elif args.port is None:
        raise ValueError("The fpga backend needs --port, the board's serial port "
                         "(e.g. /dev/ttyUSB0)")
    if args.baud is not None:
        try:
            check_int(args.baud, 300, 12_000_000, "Baud rate")
        except ValueError as exc:
            raise ValueError(f"--baud {args.baud}: {exc}") from None
    if args.board is not None:
        from wafer_engine.sw.flows.board_build import board
        try:
            spec = board(args.board)
        except ValueError as exc:
            raise ValueError(f"--board {args.board}: {exc}") from None
        if given:
            from wafer_engine.sw.flows.fpga_build import describe
            raise ValueError(f"--board {args.board} fixes the array: {describe(spec.params)}; "
                             f"drop {', '.join(given)}")
        return spec.params
    return array_params(args, ArrayParams())


def backend_runner(args, stack):
    """``run(workload) -> RunResult`` on the chosen backend; the fpga backend opens
    ``--port`` (at ``--baud``, default 115200) and leaves it to ``stack``
    (a :class:`contextlib.ExitStack`) to close."""
    if args.backend != "fpga":
        return lambda work: run_workload(work, args.backend)
    from wafer_engine.sw.hostlink.client import open_serial
    port = stack.enter_context(open_serial(args.port, 115200 if args.baud is None
                                           else args.baud))
    return lambda work: run_workload(work, "fpga", port)


def check_distinct_files(out, inputs):
    """``ValueError`` if the output ``out`` (flag, path) names one of the ``inputs``."""
    name, path = out
    for other, other_path in inputs:
        if other_path is not None and path.resolve() == other_path.resolve():
            raise ValueError(f"{name} {str(path)!r}: is also the {other} file")


def plan_for(plan, params, *shape, shrink):
    """``plan(*shape, params, shrink=shrink)``, its ``ValueError`` prefixed with the flags it
    concerns: ``--colors`` for too few colors, else the array's ``--rows``/``--cols``."""
    try:
        return plan(*shape, params, shrink=shrink)
    except ValueError as exc:
        where = (f"--colors {params.colors}" if " colors" in str(exc) and "the PE has" in str(exc)
                 else f"--rows {params.rows} --cols {params.cols}")
        raise ValueError(f"{where}: {exc}") from None


def _execute(args, plan, runner, what):
    with ExitStack() as stack:
        result, runs = runner(backend_runner(args, stack))
    save_npy(args.out, result)
    summary = pass_report(plan, runs, args.backend)
    if args.json:
        print(json.dumps(summary))
        return
    used = {tuple(r.block.describe()["array"]) for r in runs}
    tiles = ", ".join(f"{r}x{c}" for r, c in sorted(used))
    print(f"{what} on the {plan.params.rows}x{plan.params.cols} array ({args.backend}): "
          f"{summary['passes']} pass{'es' if summary['passes'] != 1 else ''} on {tiles} "
          f"tiles, {summary['cycles']} cycles, {summary['fmac_ops']} FMACs, "
          f"{summary['zero_skipped']} zeros skipped; wrote {args.out}")


def _operands(args, first, second):
    """Check the output and both operand files (flags ``first`` and ``second``: (flag, attr,
    rank)) before any work; returns the two float64 arrays."""
    out = check_output(args.out, "--out")
    files = [(flag, Path(getattr(args, attr))) for flag, attr, _ in (first, second)]
    check_distinct_files(("--out", out), files)
    return [load_operand(getattr(args, attr), flag, rank) for flag, attr, rank in (first,
                                                                                  second)]


def gemv(args):
    params = check_board_flags(args)
    a, x = _operands(args, ("--matrix", "matrix", 2), ("--vector", "vector", 1))
    if a.shape[1] != x.shape[0]:
        raise ValueError(f"--vector {args.vector!r}: has {x.shape[0]} entries; --matrix has "
                         f"{a.shape[1]} columns")
    plan = plan_for(plan_gemv, params, *a.shape, shrink=args.backend != "fpga")
    _execute(args, plan, lambda run: run_gemv_passes(a, x, plan, run, relu=args.relu),
             f"y = A x ({a.shape[0]} x {a.shape[1]})")


def gemm(args):
    params = check_board_flags(args)
    w, x = _operands(args, ("--weights", "weights", 2), ("--inputs", "inputs", 2))
    if w.shape[1] != x.shape[0]:
        raise ValueError(f"--inputs {args.inputs!r}: has {x.shape[0]} rows; --weights has "
                         f"{w.shape[1]} columns")
    (m, n), batch = w.shape, x.shape[1]
    plan = plan_for(plan_gemm, params, m, n, batch, shrink=args.backend != "fpga")
    _execute(args, plan, lambda run: run_gemm_passes(w, x, plan, run, relu=args.relu),
             f"Y = W X ({m} x {n} by {n} x {batch})")
