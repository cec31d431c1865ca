"""The FPGA backend: a workload run on the board's array over its UART host link.

The host resets the array, loads the program's configuration words, then streams each phase's
wavelets and waits with SYNC until the array is quiet before the next phase (the link client
is :class:`wafer_engine.sw.hostlink.client.FpgaLink`).
"""

from wafer_engine.fabric.model.config_model import run_chain
from wafer_engine.fabric.model.host_protocol import array_edges, config_frame, wavelet_frame

from wafer_engine.sw.backends.result import RunResult
from wafer_engine.sw.hostlink.client import DEFAULT_WINDOW, FpgaLink, FpgaLinkError

__all__ = ["run_fpga"]


def _interleave(phase, port_of):
    """One phase's WAVELET frames, ports taken in turn, so no port waits for another's whole
    stream."""
    queues = [[wavelet_frame(port_of[edge], w) for w in stream]
              for edge, stream in sorted(phase.items()) if stream]
    frames = []
    while any(queues):
        for q in queues:
            if q:
                frames.append(q.pop(0))
    return frames


def run_fpga(work, link, window=DEFAULT_WINDOW):
    """Run ``work`` (a :class:`wafer_engine.fabric.workloads.Workload`) on the FPGA behind ``link``;
    returns a :class:`wafer_engine.sw.backends.run.RunResult`.

    Measured on the board: ``outputs`` hold the wavelets in the order each edge sent them,
    with the board's cycle counter at the moment they left; ``cycles`` runs from the end of
    configuration to the last output (or to the final SYNC), UART transfer time included, so
    it measures the link more than the fabric; ``counters`` are the PE counters read over the
    link after the last phase (COUNTER frames): the work counters (``fmac_issues``,
    ``wavelets_in``, ``wavelets_out``, ``zeros_skipped``, ``no_task``, ``errors``) equal the
    golden backend's, while ``busy_cycles`` and ``idle_cycles`` count the board's own cycles,
    the UART's pace included; ``wavelets_in`` counts the WAVELET frames the board confirmed
    taken into the array (each window's FLUSHED, with no frame rejected). Predicted, and
    named so in ``predicted``: ``config_cycles``, the chain's load time from the model
    (:func:`wafer_engine.fabric.model.config_model.run_chain`), as the link reports no cycle
    count for it and the UART dominates the real load time. Raises :class:`FpgaLinkError` if
    the board reports a link error, stops answering or sends bytes that are not frames.
    """
    program = work.program
    edges = array_edges(program.rows, program.cols)
    port_of = {edge: k for k, edge in enumerate(edges)}
    host = FpgaLink(link, edges, window)
    host.reset()
    words = program.config_words()
    host.send([config_frame(w) for w in words])
    start = host.sync().cycle
    end = start
    taken = 0
    for phase in work.phases:
        frames = _interleave({(p, n): s for (p, n), s in phase.items()}, port_of)
        host.send(frames)      # returns once FLUSHED confirmed every frame taken
        taken += len(frames)
        end = host.sync().cycle
    outputs = {edge: [] for edge in edges}
    for out in host.outputs:
        if out.port >= len(edges):
            raise FpgaLinkError(f"The FPGA sent an output on edge port {out.port}; the array "
                                f"has {len(edges)}")
        outputs[edges[out.port]].append((out.cycle - start, out.wavelet))
    last = max((o.cycle for o in host.outputs), default=None)
    cycles = (last + 1 if last is not None else end) - start
    counters = host.read_counters(program.rows, program.cols)
    config_cycles, _ = run_chain(program.rows * program.cols, words)
    return RunResult(outputs, cycles, counters, config_cycles, taken,
                     predicted=frozenset({"config_cycles"}))
