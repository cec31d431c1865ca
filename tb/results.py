"""Benchmark plumbing: results passed from cocotb modules as JSON, and Markdown sections of
docs/results.md replaced between markers."""

import json
import os
from pathlib import Path

__all__ = ["record", "write_section"]


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
