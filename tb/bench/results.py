"""Benchmark plumbing: results passed from cocotb modules as JSON, and Markdown sections of
docs/results.md replaced between markers."""

import json
import os
import subprocess
from pathlib import Path

__all__ = ["record", "write_section", "speedup_rows", "commit", "provenance"]

#: The repository's top folder (tb/bench/ is two levels below it).
ROOT = Path(__file__).resolve().parents[2]


def commit():
    """Short hash of the checked-out commit, or ``"unknown"`` outside a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                             capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def provenance(command):
    """The line every generated table carries: the commit it was produced on and the command
    that regenerates it."""
    return f"Produced on commit `{commit()}`; regenerate with: `{command}`."


def record(path, key, value):
    """Store ``value`` under ``key`` in the JSON file ``path`` (created if missing)."""
    results = json.loads(Path(path).read_text()) if os.path.exists(path) else {}
    results[key] = value
    Path(path).write_text(json.dumps(results, indent=1))


def write_section(path, text, begin, end):
    """Replace the ``begin`` .. ``end`` block of Markdown file ``path`` with ``text`` (which
    carries the markers), in place; append it if the file has none."""
    path = Path(path)
    old = path.read_text() if path.exists() else "# Measured results\n"
    if begin in old:
        head, rest = old.split(begin, 1)
        path.write_text(head + text + rest.split(end, 1)[1])
    else:
        path.write_text(old.rstrip("\n") + "\n\n" + text + "\n")


def speedup_rows(cells, points):
    """Markdown table rows of a sparsity sweep, one per point.

    ``cells``: the leading cells of every row (e.g. array and backend); ``points``: a list of
    ``(sparsity, cycles, *extra)`` whose first entry is the dense run (sparsity 0), the
    reference of the speedups. Each row holds the cells, the sparsity (2 decimals), the cycles,
    the speedup over the dense run, the ideal speedup ``1 / (1 - s)``, their ratio, and the
    ``extra`` cells. Raises ``ValueError`` for an empty sweep, a first point that is not dense,
    a sparsity outside ``[0, 1)`` or a cycle count below 1.
    """
    if not points:
        raise ValueError("A sparsity sweep needs at least the dense point, not none")
    if points[0][0] != 0:
        raise ValueError(f"The first point of a sparsity sweep must be the dense run "
                         f"(sparsity 0), not sparsity {points[0][0]}")
    dense = points[0][1]
    rows = []
    for sparsity, cycles, *extra in points:
        if not 0 <= sparsity < 1:
            raise ValueError(f"Sparsity must lie in [0, 1), not {sparsity}")
        if cycles < 1:
            raise ValueError(f"Cycle counts must be at least 1, not {cycles}")
        speedup, ideal = dense / cycles, 1 / (1 - sparsity)
        row = [*cells, f"{sparsity:.2f}", str(cycles), f"{speedup:.2f}", f"{ideal:.1f}",
               f"{speedup / ideal:.2f}", *extra]
        rows.append("| " + " | ".join(str(c) for c in row) + " |")
    return rows
