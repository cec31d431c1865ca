"""`make lint`: generate the router's Verilog with `wafer verilog` and lint it with Verilator."""

import sys

from wafer_engine.sw.flows.verilog import router_top, write_verilog

from wafer_engine.sw.sim.verilator import lint

if __name__ == "__main__":
    ok = True
    for colors in (1, 4, 24):
        path = write_verilog(*router_top(colors=colors), f"build/lint/c{colors}")
        clean, output = lint(path, top="router")
        print(f"{path}: {'clean' if clean else 'WARNINGS'}")
        if not clean:
            print(output)
        ok &= clean
    sys.exit(0 if ok else 1)
