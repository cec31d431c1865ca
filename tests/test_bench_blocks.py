"""The per-block table of docs/fpga.md (tb/bench/blocks.py) against its record."""

import json

from wafer_engine.tb.bench import blocks


def _doc_block():
    text = (blocks.RECORD.parents[1] / "fpga.md").read_text()
    return blocks.BEGIN + text.split(blocks.BEGIN, 1)[1].split(blocks.END, 1)[0] + blocks.END


def test_table_in_the_docs_is_the_record_rendered():
    assert _doc_block() == blocks.render(json.loads(blocks.RECORD.read_text()))


def test_table_check_catches_a_changed_number():
    record = json.loads(blocks.RECORD.read_text())
    design = next(iter(record))
    item = next(k for k, v in record[design]["items"].items() if "lut4" in v)
    record[design]["items"][item]["lut4"] += 1
    assert _doc_block() != blocks.render(record)


def test_every_row_has_the_header_cell_count():
    record = json.loads(blocks.RECORD.read_text())
    # A failed block renders with its error in one cell and the rest empty.
    record["x"] = {"commit": "0", "items": {"router_c1": {"error": "tool failed: reason"}}}
    lines = [ln for ln in blocks.render(record).splitlines() if ln.startswith("|")]
    assert len({ln.count("|") for ln in lines}) == 1
    assert "| router | 1 | x | tool failed: reason |" in blocks.render(record)


def test_rows_measured_on_other_commits_are_named():
    record = {"v": {"commit": "b", "items": {
        "router_c1": {"commit": "a", "error": "x"}, "pe_c1": {"commit": "b", "error": "x"},
        "tile_c1": {"commit": "b", "error": "x"}}}}
    assert "Measured on: v: router at commit `a`, pe and tile at commit `b`." in \
        blocks.render(record)
    record["v"]["items"]["router_c1"]["commit"] = "b"
    assert "Measured on: v at commit `b`." in blocks.render(record)
