"""The PE's configuration, peek and counter ports."""

from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Target", "PeConfigSignature", "PeekSignature", "CountersSignature", "COUNTERS"]


class Target(enum.Enum, shape=2):
    """What a configuration write or a peek addresses."""
    TASK = 0    #: task table word: addr = 2 * color + word (word 0 or 1, see TaskEntry)
    MEM = 1     #: mem word (fp16, data bits 0..15), addr 0..mem_words-1
    ACC = 2     #: acc word (fp32, data bits 0..31), addr 0..acc_words-1
    STATE = 3   #: peek only: the REDUCE counter of color addr (writes are ignored)


class PeConfigSignature(wiring.Signature):
    """Configuration write port, seen from the writer.

    In a cycle with ``valid``, the word ``addr`` of ``target`` becomes ``data`` (low bits) at
    the next clock edge. Addresses outside the target are ignored. Write only while the PE is
    idle: the mem and acc write ports are shared with the datapath, which has priority.
    """

    def __init__(self):
        super().__init__({
            "valid": Out(1),
            "target": Out(Target),
            "addr": Out(16),
            "data": Out(64),
        })


class PeekSignature(wiring.Signature):
    """Read port for tests and host debug, seen from the reader.

    ``data`` holds the word ``addr`` of ``target`` as it was at the clock edge that ended the
    cycle in which ``target`` and ``addr`` were presented (one cycle of latency), zero-extended,
    or 0 if ``addr`` is outside the target. The mem and acc reads share the datapath's read
    ports, so the data is only meaningful while the PE is idle.
    """

    def __init__(self):
        super().__init__({
            "target": Out(Target),
            "addr": Out(16),
            "data": In(64),
        })


#: Names of the 32-bit performance counters, in port order.
COUNTERS = ("busy_cycles", "idle_cycles", "fmac_issues", "wavelets_in", "wavelets_out",
            "zeros_skipped", "no_task", "errors")


class CountersSignature(wiring.Signature):
    """The PE's 32-bit event counters (wrap around), seen from the PE.

    ``busy_cycles`` and ``idle_cycles`` partition the cycles since reset; ``fmac_issues``
    counts multiply-accumulate issues (AXPY, MAC and GRAD elements); ``wavelets_in`` and
    ``wavelets_out`` count link transfers; ``zeros_skipped`` counts zero values dropped by
    zero skip; ``no_task`` counts wavelets on a color without a task; ``errors`` counts
    wavelets rejected at decode (address out of range, bad length, undefined op, unknown
    command, output color out of range).
    """

    def __init__(self):
        super().__init__({name: Out(32) for name in COUNTERS})
