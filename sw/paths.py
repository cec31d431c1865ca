"""Where generated files go: one build folder for simulations, FPGA builds and benchmark records."""

import os
from pathlib import Path

__all__ = ["BUILD_DIR"]

#: ``$WAFER_BUILD_DIR``, or ``build/`` in the folder the first command started in. The variable
#: is set here when missing, so simulator processes started from a build folder inherit the
#: same place instead of nesting a new one.
BUILD_DIR = Path(os.environ.setdefault("WAFER_BUILD_DIR", str(Path("build").resolve())))
