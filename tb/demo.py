"""`make demo`: the router's Verilog, and one random traffic run through golden model and RTL.

Prints where the Verilog is, the traffic's size, and the cycle counts of the cycle model and of
the RTL on Verilator (which ran in lockstep with the model, checked every cycle).
"""

import json
import time

from fabric.router_model import RouterModel, simulate_router
from fabric.traffic import Backpressure, LinkSender
from fabric.verilog import router_top, write_verilog
from rtl.ports import PORTS

from .router.traffic_run import traffic
from .sim import run_cocotb, sim_dir

COLORS, DEPTH, SEED, WAVELETS = 4, 2, 2026, 5000
RATES = {"pause_rate": 0.2, "stall_rate": 0.3}


def main():
    folder = sim_dir("router", "demo")
    verilog = write_verilog(*router_top(colors=COLORS, depth=DEPTH), folder)
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
               test_module="tb.router.traffic_run",
               params={"colors": COLORS, "depth": DEPTH, "seed": SEED, "wavelets": WAVELETS,
                       "results": str(results), **RATES})
    rtl = json.loads(results.read_text())
    rtl_s = time.perf_counter() - start
    print(f"RTL (Verilator): {sum(rtl['in'])} wavelets in, {sum(rtl['out'])} out, "
          f"{rtl['cycles']} cycles, {rtl_s:.1f} s with the build")
    same = rtl["cycles"] == cycles and rtl["out"] == [len(e) for e in emitted]
    print("RTL and golden model agree on every output wavelet and cycle" if same
          else "MISMATCH between RTL and golden model")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
