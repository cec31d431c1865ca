"""Shared pytest settings: simulations and builds go to the repository's build/ folder."""

import os
from pathlib import Path

# Set before any project module computes its build folder, so every worker and every simulator
# process uses <repo>/build whatever folder pytest was started from.
os.environ.setdefault("WAFER_BUILD_DIR", str(Path(__file__).resolve().parent.parent / "build"))
