"""The PE's internal work descriptors: a fetched wavelet (:class:`Fetched`), a decoded
wavelet (:class:`Job`) and one issued pipeline slot (:class:`Element`)."""

from amaranth.lib import data, enum

from wafer_engine.rtl.wavelet import COLOR_BITS, Wavelet
from wafer_engine.rtl.pe.task import TaskEntry

__all__ = ["Decoded", "Predecoded", "Fetched", "Job", "Element", "address_bits"]


def address_bits(words):
    """Bits of an address below ``words`` (at least 1): what a job's checked mem or acc
    address needs of its 16-bit field."""
    return max(1, (words - 1).bit_length())


class Decoded(enum.Enum, shape=2):
    """What the decoder makes of a fetched wavelet."""
    JOB = 0         #: work for the sequencer
    SKIP = 1        #: zero value on an AXPY/MAC task with zero skip: dropped, counted
    NO_TASK = 2     #: color without a task: dropped, counted, flagged
    ERROR = 3       #: rejected (address range, length, op, command, color): dropped, counted


class Predecoded(data.Struct):
    """What the decoder needs of a task row that does not depend on the wavelet, worked out
    from the fetched row on its way from F into P."""
    none: 1         # op NONE, or the row's word 1 not written since reset
    store: 1
    axpy: 1
    mac: 1
    reduce: 1
    grad: 1         # GRAD or GRAD_ACC
    grad_acc: 1
    len_ok: 1       # 1 <= len <= max_len
    color_ok: 1     # out_color < colors
    acc_ok: 1       # acc + len <= acc_words (AXPY, REDUCE, control wavelets)


class Fetched(data.Struct):
    """Stage F: the wavelet taken from the input FIFO with its color's task row."""
    wavelet: Wavelet
    task: TaskEntry
    armed: 1        # the row's word 1 (which holds op) was written since reset


class Job(data.Struct):
    """A decoded wavelet: everything the sequencer needs, with addresses already resolved.

    Exactly one of ``store``, ``fmac``, ``reduce``, ``grad`` (GRAD and GRAD_ACC) is set, or
    ``drain`` and/or ``clear`` for a control wavelet. ``count`` elements are issued (1 for
    STORE and REDUCE). In the sequencer the addresses, ``index`` and ``count`` advance with
    every issue.
    """
    store: 1
    fmac: 1
    reduce: 1
    grad: 1
    drain: 1
    clear: 1
    count: 16       # elements still to issue, 1..max_len
    mem_a: 16       # STORE: the address written; FMAC/GRAD: first weight/activation read
    mem_b: 16       # GRAD: first word of the other operand
    acc: 16         # first accumulator (REDUCE: acc + k)
    data: 32        # fp16 value (low half) or REDUCE's fp32 payload
    index: 16       # output index of element 0 (index_base + k for REDUCE)
    color: COLOR_BITS
    sparse: 1
    relu: 1
    to_acc: 1       # GRAD_ACC: the sum is written to acc[acc], not sent
    source: COLOR_BITS  # color of the wavelet (GRAD jobs of one color share a group)


class Element(data.Struct):
    """One issued slot travelling down the datapath pipeline (stages S1..S11).

    A slot with none of the kind bits set is a bubble. ``data`` carries the fp16 value (to
    S2), REDUCE's payload (to S5), a drained accumulator (S6..S9) and the result (S10, S11).
    ``fwd`` (S4 only) says the element in S9 writes the accumulator this one reads: its sum,
    at the adder's output, replaces the value read at S3. ``relu`` asks for ReLU up to S10;
    in S11 it says ReLU zeroes the result (it was negative and not NaN).
    """
    fmac: 1         # acc[acc] += data * mem (reads and writes acc)
    grad: 1         # GRAD: multiply the two mem operands, add to the running sum
    reduce: 1       # out(data + acc[acc])
    drain: 1        # out(acc[acc])
    clear: 1        # acc[acc] = +0
    first: 1        # GRAD: the running sum starts from +0
    last: 1         # GRAD: the running sum is the output (to_acc: written to acc[acc])
    to_acc: 1
    fwd: 1
    acc: 16
    data: 32
    index: 16
    color: COLOR_BITS
    sparse: 1
    relu: 1

    @property
    def valid(self):
        return self.fmac | self.grad | self.reduce | self.drain | self.clear

    @property
    def reads_acc(self):
        return self.fmac | self.reduce | self.drain

    @property
    def writes_acc(self):
        return self.fmac | self.clear | (self.grad & self.last & self.to_acc)

    @property
    def out(self):
        return self.reduce | self.drain | (self.grad & self.last & ~self.to_acc)
