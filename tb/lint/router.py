"""`make lint`: generate the router's Verilog with `wafer verilog` and lint it with Verilator."""

import sys

from wafer_engine.rtl.params import ArrayParams
from wafer_engine.sw.flows.verilog import router_top, write_verilog
from wafer_engine.sw.paths import BUILD_DIR
from wafer_engine.sw.sim.verilator import lint

if __name__ == "__main__":
    ok = True
    for colors in (1, 4, 24):
        path = write_verilog(*router_top(ArrayParams.build(colors=colors)),
                             BUILD_DIR / "lint" / f"c{colors}")
        clean, output = lint(path, top="router")
        print(f"{path}: {'clean' if clean else 'WARNINGS'}")
        if not clean:
            print(output)
        ok &= clean
    sys.exit(0 if ok else 1)
