"""wafer_engine.tb.bench.fpga's result store: runs of different items side by side keep each other's."""

import json

from wafer_engine.tb.bench import fpga as fpga_bench


def test_a_run_keeps_results_stored_while_it_ran(tmp_path, monkeypatch):
    store = tmp_path / "bench.json"
    store.write_text(json.dumps({"old": {"kind": "part"}}))
    monkeypatch.setattr(fpga_bench, "RESULTS", store)

    def run_item(kind, params):
        # Another bench process finishes its item while this one runs.
        other = json.loads(store.read_text())
        store.write_text(json.dumps({**other, "other": {"kind": "array"}}))
        return {"kind": kind, "params": params, "command": "x"}

    monkeypatch.setattr(fpga_bench, "run_item", run_item)
    item = fpga_bench.ITEMS[0][0]
    fpga_bench.main(["--only", item])
    assert set(json.loads(store.read_text())) == {"old", "other", item}
