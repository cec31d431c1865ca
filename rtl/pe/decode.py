"""The PE's decoder: a wavelet and its color's task in, a resolved :class:`Job` out."""

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from wafer_engine.rtl.wavelet import Wavelet
from wafer_engine.rtl.pe.job import Decoded, Job
from wafer_engine.rtl.params import PeParams
from wafer_engine.rtl.pe.task import Command, Op, TaskEntry

__all__ = ["Decoder"]


class Decoder(wiring.Component):
    """Combinational decode of one wavelet against its task (see docs/pe.md, "Decode").

    Resolves the index into addresses (``i = idx >> jbits``, ``j = idx & (2**jbits - 1)``,
    row offsets ``row * len``) and checks every address the job will touch against the
    physical memories, so the datapath never sees an address out of range. The order of the
    checks is: no task, then errors, then zero skip.

    Parameters: the PE's :class:`wafer_engine.rtl.params.PeParams` (``colors``, ``mem_words``,
    ``acc_words`` and ``max_len`` matter here).

    Attributes:
        wavelet: In(Wavelet) -- the wavelet at the head of the input FIFO.
        task: In(TaskEntry) -- the task table row of its color.
        reduce_k: In(16) -- the REDUCE counter of its color.
        kind: Out(Decoded) -- what to do with the wavelet.
        job: Out(Job) -- the work, when ``kind == JOB``.
        reduce_k_next: Out(16) -- the counter after this REDUCE (wraps at ``len``).
    """

    wavelet: In(Wavelet)
    task: In(TaskEntry)
    reduce_k: In(16)
    kind: Out(Decoded)
    job: Out(Job)
    reduce_k_next: Out(16)

    def __init__(self, params=None):
        self._params = PeParams() if params is None else params
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        p = self._params
        w, t, job = self.wavelet, self.task, self.job
        value, idx = w.payload.half.value, w.payload.half.index
        # Length bits beyond max_len never reach the arithmetic: such lengths are errors.
        length = t.len[:p.max_len.bit_length()]
        len_ok = (t.len != 0) & (t.len <= p.max_len)
        i = idx >> t.jbits
        j = idx & ~(Const(0xFFFF, 16) << t.jbits)[:16]
        row = Mux(t.op == Op.AXPY, idx, j)
        # Full-width sums: nothing wraps before the range checks.
        mem_a_row = t.mem_a + row * length
        mem_b_row = t.mem_b + i * length
        acc_row = t.acc + Mux(t.op == Op.MAC, i * length, 0)
        mem_a_ok = mem_a_row + length <= p.mem_words
        mem_b_ok = mem_b_row + length <= p.mem_words
        acc_ok = acc_row + length <= p.acc_words
        store_addr = t.mem_a + idx
        color_ok = t.out_color < p.colors
        zero = value[:15] == 0

        cmd = w.payload.data[:4]
        drain = (cmd == Command.DRAIN) | (cmd == Command.DRAIN_CLEAR)
        clear = (cmd == Command.CLEAR) | (cmd == Command.DRAIN_CLEAR)
        k = self.reduce_k
        m.d.comb += self.reduce_k_next.eq(Mux(k + 1 >= t.len, 0, k + 1))

        m.d.comb += [
            job.count.eq(t.len),
            job.mem_a.eq(mem_a_row),
            job.mem_b.eq(mem_b_row),
            job.acc.eq(acc_row),
            job.data.eq(value),
            job.index.eq(t.index_base),
            job.color.eq(t.out_color),
            job.sparse.eq(t.sparse_out),
            job.relu.eq(t.relu),
        ]

        ok = Signal()     # the wavelet's addresses, length and output color are usable
        with m.If(t.op == Op.NONE):
            m.d.comb += self.kind.eq(Decoded.NO_TASK)
        with m.Elif(w.control):
            m.d.comb += [
                job.drain.eq(drain),
                job.clear.eq(clear),
                job.acc.eq(t.acc),
            ]
            m.d.comb += ok.eq(len_ok & (drain | clear) & (t.acc + length <= p.acc_words)
                              & (color_ok | ~drain))
            with m.If(ok):
                m.d.comb += self.kind.eq(Decoded.JOB)
            with m.Else():
                m.d.comb += self.kind.eq(Decoded.ERROR)
        with m.Else():
            with m.Switch(t.op):
                with m.Case(Op.STORE):
                    m.d.comb += [job.store.eq(1), job.count.eq(1), job.mem_a.eq(store_addr)]
                    m.d.comb += ok.eq(store_addr < p.mem_words)
                with m.Case(Op.AXPY, Op.MAC):
                    m.d.comb += job.fmac.eq(1)
                    m.d.comb += ok.eq(len_ok & mem_a_ok & acc_ok)
                with m.Case(Op.REDUCE):
                    m.d.comb += [
                        job.reduce.eq(1),
                        job.count.eq(1),
                        job.acc.eq(t.acc + k),
                        job.data.eq(w.payload.data),
                        job.index.eq(t.index_base + k),
                    ]
                    m.d.comb += ok.eq(len_ok & acc_ok & color_ok)
                with m.Case(Op.GRAD):
                    # The output is one fp32 sum: always dense.
                    m.d.comb += [job.grad.eq(1), job.sparse.eq(0)]
                    m.d.comb += ok.eq(len_ok & mem_a_ok & mem_b_ok & color_ok)
                with m.Default():
                    m.d.comb += ok.eq(0)      # undefined op codes 6 and 7
            skip = t.zero_skip & zero & ((t.op == Op.AXPY) | (t.op == Op.MAC))
            with m.If(~ok):
                m.d.comb += self.kind.eq(Decoded.ERROR)
            with m.Elif(skip):
                m.d.comb += self.kind.eq(Decoded.SKIP)
            with m.Else():
                m.d.comb += self.kind.eq(Decoded.JOB)
        return m
