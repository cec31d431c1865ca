"""Progress of long work on stderr: one line per stage as it starts and ends, with the elapsed
time, and the running tool's own progress condensed to a live status line.

On a terminal the status line is rewritten in place; otherwise (a pipe, a log file, CI) it is
printed as plain lines at most every :data:`PLAIN_EVERY` seconds, so logs stay short. A
:class:`Progress` made with ``quiet=True`` prints nothing; library calls that are not given one
use :data:`SILENT`. Tools run through :func:`run_tool`, which also stops them when the caller is
interrupted (Ctrl-C), so no child outlives the command.
"""

import re
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

__all__ = ["Progress", "SILENT", "run_tool", "nextpnr_status", "PLAIN_EVERY"]

#: Seconds between plain status lines when the stream is not a terminal.
PLAIN_EVERY = 10.0
#: Seconds between looks at a running tool's log.
_POLL = 0.25


def _clock(seconds):
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes:3d}:{seconds:02d}"


class Progress:
    """Stage and status lines for one command on ``stream`` (default stderr).

    ``quiet``: print nothing. ``log``: a file that receives the full log of every tool run
    through :func:`run_tool` (appended, each headed by the tool's name). ``clock``: a function
    returning seconds (for tests). Times printed are from the moment this object was made.
    """

    def __init__(self, stream=None, quiet=False, log=None, clock=time.monotonic):
        self.stream = sys.stderr if stream is None else stream
        self.quiet, self.clock = quiet, clock
        self.log = None if log is None else Path(log)
        self.start = clock()
        self._status_shown = False
        self._last_plain = None
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def _print(self, text):
        if self.quiet:
            return
        if self._status_shown:
            self.stream.write("\r\x1b[K")
            self._status_shown = False
        self.stream.write(f"[{_clock(self.clock() - self.start)}] {text}\n")
        self.stream.flush()

    def line(self, text):
        """One line, stamped with the elapsed time."""
        self._print(text)

    @contextmanager
    def stage(self, name):
        """``with progress.stage("synthesis"):`` prints ``synthesis ...`` when it starts and
        ``synthesis done (12 s)`` (or ``failed``, ``interrupted``) when it ends."""
        began = self.clock()
        self._print(f"{name} ...")
        try:
            yield self
        except KeyboardInterrupt:
            self._print(f"{name} interrupted after {self.clock() - began:.0f} s")
            raise
        except BaseException:
            self._print(f"{name} failed after {self.clock() - began:.0f} s")
            raise
        self._print(f"{name} done ({self.clock() - began:.0f} s)")

    def status(self, text):
        """The running stage's latest state: rewritten in place on a terminal, a plain line
        at most every :data:`PLAIN_EVERY` seconds otherwise."""
        if self.quiet or not text:
            return
        now = self.clock()
        if self.tty:
            self.stream.write(f"\r\x1b[K[{_clock(now - self.start)}]   {text}")
            self.stream.flush()
            self._status_shown = True
        elif self._last_plain is None or now - self._last_plain >= PLAIN_EVERY:
            self._last_plain = now
            self._print(f"  {text}")

    def keep_log(self, what, path):
        """Append the tool log ``path`` to :attr:`log` (if one was asked for)."""
        if self.log is None or not Path(path).exists():
            return
        with open(self.log, "a") as out:
            out.write(f"===== {what}: {path}\n")
            out.write(Path(path).read_text(errors="replace"))
            out.write("\n")


#: Progress that prints nothing: the default of library calls.
SILENT = Progress(quiet=True)

_PLACER = re.compile(r"at (?:initial placer )?iter(?:ation)? #?(\d+)")
_ROUTER1 = re.compile(r"^Info:\s+(\d+)\s+\|\s+(\d+)\s+(\d+)\s+\|\s+(-?\d+)\s+(-?\d+)\s+\|\s+(\d+)\s*\|")
_ROUTER2 = re.compile(r"iter=(\d+)\s+wires=(\d+)\s+overused=(\d+)")
_FMAX = re.compile(r"Max frequency for clock\s+'?([^':]*)'?:\s+([\d.]+) MHz")


def nextpnr_status(line, state):
    """The stage (``placement``, ``routing``, ``timing``) and a short status text for one
    line of a nextpnr log, or ``(None, None)``; ``state`` (a dict) carries what earlier lines
    told."""
    if "Running main analytical placer" in line or "Running simulated annealing placer" in line:
        state["stage"] = "placement"
    m = _PLACER.search(line)
    if m:
        state["stage"] = "placement"
        return "placement", f"placement: iteration {m.group(1)}"
    if "Routing.." in line or "Running router2" in line or "Setting up routing queue" in line:
        state["stage"] = "routing"
        return "routing", "routing: started"
    m = _ROUTER2.search(line)
    if m:
        return "routing", (f"routing: iteration {m.group(1)}, {m.group(3)} of {m.group(2)} "
                           f"wires overused")
    m = _ROUTER1.match(line)
    if m:
        return "routing", f"routing: {m.group(6)} arcs left"
    m = _FMAX.search(line)
    if m:
        return "timing", f"timing: {m.group(2)} MHz on {m.group(1).strip() or 'the clock'}"
    return state.get("stage"), None


def run_tool(argv, cwd, log, what, progress=SILENT, parse=None):
    """Run ``argv`` in ``cwd``; while it runs, read the new lines of its log file ``log`` and
    pass each to ``parse(line, state) -> (stage, status)``: a new ``stage`` is announced with
    :meth:`Progress.line`, ``status`` shown with :meth:`Progress.status`. Returns the wall time
    in seconds. Raises ``RuntimeError`` with the output's last lines if the tool fails; an
    interrupt (or any error here) stops the tool before it propagates."""
    log = Path(log)
    start = time.monotonic()
    # The tool's own output goes to a file, not a pipe: a pipe nobody reads while the log is
    # watched would fill and stall the tool.
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        state, offset, stage = {}, 0, None
        try:
            while True:
                done = proc.poll() is not None
                if parse is not None and log.exists():
                    with open(log, "rb") as f:
                        f.seek(offset)
                        chunk = f.read()
                    # Only whole lines, until the tool has finished writing.
                    complete = chunk if done else chunk[:chunk.rfind(b"\n") + 1]
                    offset += len(complete)
                    for line in complete.decode(errors="replace").splitlines():
                        new_stage, text = parse(line, state)
                        if new_stage is not None and new_stage != stage:
                            if stage is not None:
                                progress.line(f"  {stage} done")
                            stage = new_stage
                            progress.line(f"  {stage} ...")
                        progress.status(text)
                if done:
                    break
                time.sleep(_POLL)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            progress.keep_log(what, log)
        out.seek(0)
        output = out.read().decode(errors="replace")
    if stage is not None:
        progress.line(f"  {stage} done")
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-20:])
        raise RuntimeError(f"{what} failed (exit {proc.returncode}); see {log}:\n{tail}")
    return seconds

