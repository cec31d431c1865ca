"""Progress of long work: stage lines, the tools' progress condensed to a status line, quiet
runs, JSON kept clean on stdout, and Ctrl-C stopping the tools with exit status 130 and no
half-written output."""

import io
import json
import os
import re
import sys
import textwrap

import numpy as np
import pytest

from wafer_engine.sw.cli.main import INTERRUPTED, main
from wafer_engine.sw.progress import PLAIN_EVERY, Progress, nextpnr_status, run_tool


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_stage_lines_carry_the_elapsed_time_and_the_outcome():
    clock, out = _Clock(), io.StringIO()
    p = Progress(out, clock=clock)
    with p.stage("synthesis"):
        clock.now = 75
    with pytest.raises(ValueError):
        with p.stage("capacity check"):
            clock.now = 76
            raise ValueError("too big")
    assert out.getvalue().splitlines() == [
        "[  0:00] synthesis ...", "[  1:15] synthesis done (75 s)",
        "[  1:15] capacity check ...", "[  1:16] capacity check failed after 1 s"]


def test_quiet_prints_nothing():
    out = io.StringIO()
    p = Progress(out, quiet=True)
    with p.stage("synthesis"):
        p.status("placement: iteration 3")
        p.line("x")
    assert out.getvalue() == ""


def test_status_is_rewritten_on_a_terminal_and_thinned_out_elsewhere():
    clock = _Clock()
    tty = _Tty()
    p = Progress(tty, clock=clock)
    p.status("routing: 900 arcs left")
    p.status("routing: 10 arcs left")
    p.line("routing done")
    assert tty.getvalue() == ("\r\x1b[K[  0:00]   routing: 900 arcs left"
                              "\r\x1b[K[  0:00]   routing: 10 arcs left"
                              "\r\x1b[K[  0:00] routing done\n")
    plain = io.StringIO()
    p = Progress(plain, clock=clock)
    for t in range(25):
        clock.now = t
        p.status(f"routing: {100 - t} arcs left")
    # Not a terminal: one line at most every PLAIN_EVERY seconds.
    assert PLAIN_EVERY == 10
    assert plain.getvalue().splitlines() == ["[  0:00]   routing: 100 arcs left",
                                             "[  0:10]   routing: 90 arcs left",
                                             "[  0:20]   routing: 80 arcs left"]


@pytest.mark.parametrize("line,stage,text", [
    ("Info: Running main analytical placer.", "placement", None),
    ("Info:    at initial placer iter 0, wirelen = 1234", "placement",
     "placement: iteration 0"),
    ("Info:   at iteration #12: temp = 0.0, timing cost = 5, wirelen = 9", "placement",
     "placement: iteration 12"),
    ("Info: Routing..", "routing", "routing: started"),
    ("Info:      2000 |      100      1900 |  100  1900 |     41230|       1.20       1.20|",
     "routing", "routing: 41230 arcs left"),
    ("Info:     iter=7 wires=51234 overused=12 overuse=14 archfail=NA", "routing",
     "routing: iteration 7, 12 of 51234 wires overused"),
    ("Info: Max frequency for clock '$glbnet$clk': 31.02 MHz (PASS at 25.00 MHz)", "timing",
     "timing: 31.02 MHz on $glbnet$clk"),
])
def test_nextpnr_lines(line, stage, text):
    assert nextpnr_status(line, {}) == (stage, text)


def _fake_tool(tmp_path, lines, status=0, delay=0.05):
    """A tool that writes ``lines`` to ``log`` one by one, then exits with ``status``."""
    script = tmp_path / "tool.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        with open("tool.log", "w") as log:
            for line in {lines!r}:
                log.write(line + "\\n"); log.flush(); time.sleep({delay})
        print("last words")
        sys.exit({status})
    """))
    return [sys.executable, str(script)]


NEXTPNR = ["Info: Running main analytical placer.", "Info:    at initial placer iter 0, x",
           "Info:   at iteration #5: temp", "Info: Routing..",
           "Info:     iter=1 wires=10 overused=2 overuse=2 archfail=NA",
           "Info: Max frequency for clock 'clk': 99.00 MHz (PASS at 50.00 MHz)"]


def test_run_tool_announces_the_tools_stages_in_order(tmp_path):
    out = io.StringIO()
    log_copy = tmp_path / "all.log"
    p = Progress(out, log=log_copy)
    seconds = run_tool(_fake_tool(tmp_path, NEXTPNR), tmp_path, tmp_path / "tool.log", "nextpnr",
                       p, parse=nextpnr_status)
    assert seconds > 0
    stages = [re.sub(r"^\[\s*\d+:\d\d\]\s+", "", line) for line in out.getvalue().splitlines()
              if "..." in line or "done" in line]
    assert stages == ["placement ...", "placement done", "routing ...", "routing done",
                      "timing ...", "timing done"]
    # --log keeps the tool's whole log.
    assert log_copy.read_text().count("Info:") == len(NEXTPNR)


def test_run_tool_reports_a_failure_with_the_last_lines(tmp_path):
    with pytest.raises(RuntimeError, match=r"(?s)^nextpnr failed \(exit 3\); see .*tool\.log:"
                                           r"\nlast words$"):
        run_tool(_fake_tool(tmp_path, ["Info: x"], status=3), tmp_path, tmp_path / "tool.log",
                 "nextpnr", Progress(io.StringIO()), parse=nextpnr_status)


def test_an_interrupt_stops_the_tool(tmp_path):
    """Ctrl-C while the tool runs: the tool process is gone when the interrupt propagates."""
    pid_file = tmp_path / "pid"
    script = tmp_path / "slow.py"
    script.write_text(textwrap.dedent(f"""
        import os, time
        open({str(pid_file)!r}, "w").write(str(os.getpid()))
        with open("tool.log", "w") as log:
            log.write("Info: Routing..\\n"); log.flush()
            time.sleep(60)
    """))

    class Interrupting(Progress):
        def status(self, text):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_tool([sys.executable, str(script)], tmp_path, tmp_path / "tool.log", "slow",
                 Interrupting(io.StringIO()), parse=nextpnr_status)
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def _fake_build(result):
    def build(params, target, work_dir, *, freq_mhz=None, progress=None):
        with progress.stage("synthesis (yosys, ecp5)"):
            progress.status("placement: iteration 1")
        return result
    return build


def test_synth_json_stays_one_object_on_stdout_with_progress_on(monkeypatch, capsys):
    from wafer_engine.sw.flows import fpga_build
    result = {"target": "ecp5-85k", "luts": 1}
    monkeypatch.setattr(fpga_build, "build_array", _fake_build(result))
    assert main(["synth", "--target", "ecp5-85k", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == result
    assert "synthesis (yosys, ecp5) ..." in captured.err
    assert main(["synth", "--target", "ecp5-85k", "--json", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == result and captured.err == ""


def test_interrupted_synth_exits_130_with_one_line(monkeypatch, capsys):
    from wafer_engine.sw.flows import fpga_build

    def build(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(fpga_build, "build_array", build)
    assert main(["synth", "--target", "ecp5-85k", "--quiet"]) == INTERRUPTED == 130
    assert capsys.readouterr().err == "wafer synth: interrupted\n"


def test_interrupted_gemm_leaves_no_output(monkeypatch, tmp_path, capsys):
    from wafer_engine.sw.cli import linalg
    w, x = tmp_path / "w.npy", tmp_path / "x.npy"
    np.save(w, np.ones((4, 4)))
    np.save(x, np.ones((4, 2)))

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(linalg, "run_workload", interrupted)
    out = tmp_path / "y.npy"
    assert main(["gemm", "--weights", str(w), "--inputs", str(x), "--out", str(out)]) == 130
    assert capsys.readouterr().err == "wafer gemm: interrupted\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.npy", "x.npy"]


def test_synth_log_must_be_writable(tmp_path, capsys):
    missing = tmp_path / "nowhere" / "synth.log"
    assert main(["synth", "--target", "ecp5-85k", "--log", str(missing)]) == 2
    assert capsys.readouterr().err == (f"wafer synth: error: --log {str(missing)!r}: the "
                                       f"folder {str(missing.parent)!r} does not exist\n")
