"""The PE's internal work descriptors: a decoded wavelet (:class:`Job`) and one issued
pipeline slot (:class:`Element`)."""

from amaranth.lib import data, enum

from wafer_engine.rtl.wavelet import COLOR_BITS

__all__ = ["Decoded", "Job", "Element"]


class Decoded(enum.Enum, shape=2):
    """What the decoder makes of the wavelet at the head of the input FIFO."""
    JOB = 0         #: work for the sequencer
    SKIP = 1        #: zero value on an AXPY/MAC task with zero skip: dropped, counted
    NO_TASK = 2     #: color without a task: dropped, counted, flagged
    ERROR = 3       #: rejected (address range, length, op, command, color): dropped, counted


class Job(data.Struct):
    """A decoded wavelet: everything the sequencer needs, with addresses already resolved.

    Exactly one of ``store``, ``fmac``, ``reduce``, ``grad`` is set, or ``drain`` and/or
    ``clear`` for a control wavelet. ``count`` elements are issued (1 for STORE and REDUCE).
    """
    store: 1
    fmac: 1
    reduce: 1
    grad: 1
    drain: 1
    clear: 1
    count: 16       # elements, 1..max_len
    mem_a: 16       # STORE: the address written; FMAC/GRAD: first weight/activation read
    mem_b: 16       # GRAD: first word of the other operand
    acc: 16         # first accumulator (REDUCE: acc + k)
    data: 32        # fp16 value (low half) or REDUCE's fp32 payload
    index: 16       # output index of element 0 (index_base + k for REDUCE)
    color: COLOR_BITS
    sparse: 1
    relu: 1


class Element(data.Struct):
    """One issued slot travelling down the datapath pipeline (stages S1..S10).

    A slot with none of the kind bits set is a bubble. ``data`` carries the fp16 value (S1),
    REDUCE's payload (to S4), a drained accumulator (S5..S8) and the result (S9, S10).
    """
    fmac: 1         # acc[acc] += data * mem (reads and writes acc)
    grad_x: 1       # GRAD: latch the first operand from mem
    grad_w: 1       # GRAD: multiply the latched operand by mem, add to the running sum
    reduce: 1       # out(data + acc[acc])
    drain: 1        # out(acc[acc])
    clear: 1        # acc[acc] = +0
    first: 1        # GRAD: the running sum starts from +0
    last: 1         # GRAD: the running sum is the output
    acc: 16
    data: 32
    index: 16
    color: COLOR_BITS
    sparse: 1
    relu: 1

    @property
    def valid(self):
        return self.fmac | self.grad_x | self.grad_w | self.reduce | self.drain | self.clear

    @property
    def reads_acc(self):
        return self.fmac | self.reduce | self.drain

    @property
    def writes_acc(self):
        return self.fmac | self.clear

    @property
    def out(self):
        return self.reduce | self.drain | (self.grad_w & self.last)
