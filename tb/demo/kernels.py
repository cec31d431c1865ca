"""`make demo-kernels`: the blocks on their own, golden model against RTL.

1. The router's Verilog, and one random traffic run through its golden model and its RTL.
2. The default 4x4 array's Verilog, and a sparse GEMV (x 80 % zeros) on the golden model and on
   the RTL (Verilator, in lockstep with the model): results bit-identical, cycles and the
   speedup over the same GEMV with a dense x.
"""

import json
import time

import numpy as np

from wafer_engine.fabric.model.router_model import RouterModel, simulate_router
from wafer_engine.fabric.model.traffic import Backpressure, LinkSender
from wafer_engine.sw.flows.array_verilog import write_array_verilog
from wafer_engine.sw.flows.verilog import router_top, write_verilog
from wafer_engine.fabric.workloads import collect_vector, gemv_program
from wafer_engine.rtl.ports import PORTS
from wafer_engine.sw.backends.run import run_workload

from wafer_engine.tb.router.traffic_run import traffic
from wafer_engine.sw.sim.runner import run_cocotb, sim_dir
from wafer_engine.rtl.params import ArrayParams

COLORS, DEPTH, SEED, WAVELETS = 4, 2, 2026, 5000
RATES = {"pause_rate": 0.2, "stall_rate": 0.3}


def main():
    folder = sim_dir("router", "demo")
    verilog = write_verilog(*router_top(ArrayParams.build(colors=COLORS, depth=DEPTH)), folder)
    print(f"router Verilog ({COLORS} colors, depth {DEPTH}): {verilog}")

    routes, streams = traffic(COLORS, SEED, WAVELETS)
    for color, route in sorted(routes.items()):
        rx = "+".join(p.name for p in sorted(route.rx))
        tx = "+".join(p.name for p in sorted(route.tx))
        print(f"  color {color}: {rx:>10} -> {tx:<14} RAMP index filter [{route.lo}, {route.hi}]")

    start = time.perf_counter()
    model = RouterModel(colors=COLORS, depth=DEPTH, routes=routes)
    senders = [LinkSender(COLORS, streams.get(p, ())) for p in PORTS]
    cycles, emitted = simulate_router(model, senders, Backpressure(SEED, COLORS, **RATES))
    model_s = time.perf_counter() - start
    print(f"golden model: {WAVELETS} wavelets in, {sum(map(len, emitted))} out "
          f"(multicast copies included, filtered ones excluded), {cycles} cycles, {model_s:.1f} s")

    results = folder / "traffic.json"
    start = time.perf_counter()
    run_cocotb(unit="router", config_name="demo", verilog_path=verilog, toplevel="router",
               test_module="wafer_engine.tb.router.traffic_run",
               params={"colors": COLORS, "depth": DEPTH, "seed": SEED, "wavelets": WAVELETS,
                       "results": str(results), **RATES})
    rtl = json.loads(results.read_text())
    rtl_s = time.perf_counter() - start
    print(f"RTL (Verilator): {sum(rtl['in'])} wavelets in, {sum(rtl['out'])} out, "
          f"{rtl['cycles']} cycles, {rtl_s:.1f} s with the build")
    same = rtl["cycles"] == cycles and rtl["out"] == [len(e) for e in emitted]
    print("RTL and golden model agree on every output wavelet and cycle" if same
          else "MISMATCH between RTL and golden model")
    return 0 if same and gemv_demo() else 1


def gemv_demo(size=4, m=64, n=64, sparsity=0.8, seed=2026):
    """Sparse GEMV on the default array, golden and RTL; returns whether they agree."""
    path, seconds = write_array_verilog(ArrayParams.build(rows=size, cols=size),
                                        out_dir=sim_dir("array", "demo"))
    print(f"\n{size}x{size} array Verilog (top wafer_array): {path} ({seconds:.1f} s)")
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, n))
    x = rng.standard_normal(n)
    dense = gemv_program(a, x, ArrayParams.build(rows=size, cols=size))
    x[rng.random(n) < sparsity] = 0
    work = gemv_program(a, x, ArrayParams.build(rows=size, cols=size))
    runs = {}
    for backend in ("golden", "verilator"):
        start = time.perf_counter()
        runs[backend] = run_workload(work, backend)
        y = collect_vector([runs[backend].outputs[o] for o in work.outputs], m)
        r = runs[backend]
        print(f"GEMV {m}x{n}, {np.count_nonzero(x)} non-zeros of x, {backend}: "
              f"{r.cycles} cycles, {r.total('fmac_issues')} FMACs, config {r.config_cycles} "
              f"cycles through the chain, {time.perf_counter() - start:.1f} s")
        runs[backend] = (r, y)
    (g, yg), (v, yv) = runs["golden"], runs["verilator"]
    same = yg.tobytes() == yv.tobytes() and g.cycles == v.cycles
    ref = a.astype(np.float16).astype(float) @ x.astype(np.float16).astype(float)
    print(f"max |y - numpy| = {np.abs(yg - ref).max():.2e} (|y| up to {np.abs(ref).max():.1f})")
    dense_cycles = run_workload(dense, "golden").cycles
    print(f"dense x: {dense_cycles} cycles; speedup from skipping zeros "
          f"{dense_cycles / g.cycles:.2f}x (ideal {1 / (1 - sparsity):.1f}x)")
    print("RTL and golden model results bit-identical" if same
          else "MISMATCH between RTL and golden model")
    return same


if __name__ == "__main__":
    raise SystemExit(main())
