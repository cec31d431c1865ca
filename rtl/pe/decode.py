"""The PE's decoder: a three-stage pipeline from the input FIFO's head to a resolved
:class:`Job` (see docs/pe.md, "Decode")."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from wafer_engine.rtl.wavelet import COLOR_BITS
from wafer_engine.rtl.pe.job import Decoded, Fetched, Job, Predecoded, address_bits
from wafer_engine.rtl.params import PeParams
from wafer_engine.rtl.pe.task import Command, Op

__all__ = ["Decoder", "predecode"]


def predecode(task, armed, params):
    """The :class:`~wafer_engine.rtl.pe.job.Predecoded` flags of task row ``task`` (a
    ``TaskEntry`` view); a row not ``armed`` since reset is NONE."""
    p = params
    op = task.op
    return Cat(~armed | (op == Op.NONE), op == Op.STORE, op == Op.AXPY, op == Op.MAC,
               op == Op.REDUCE, (op == Op.GRAD) | (op == Op.GRAD_ACC), op == Op.GRAD_ACC,
               (task.len != 0) & (task.len <= p.max_len),
               task.out_color < p.colors,
               task.acc + task.len <= p.acc_words)


class Decoder(wiring.Component):
    """Decode of the wavelet at the head of the input FIFO against its color's task, in three
    registered stages so that no path runs from the FIFO through the decode to the sequencer:

    - F (fetch): the head wavelet, its task row and whether the row is armed, and the index
      split ``i = idx >> jbits``, ``j = idx & (2**jbits - 1)``;
    - P (products): the row offsets ``row * len``, the block ends ``base + len`` and the
      row's :class:`Predecoded` flags;
    - X (the decoded job): full-width address sums and range checks decide what the wavelet
      is (drop kinds in the order no task, errors, zero skip). P moves on when X is empty or
      its job is taken this cycle; a job then fills X, a drop leaves X empty (counted).

    Each stage takes a new wavelet in the cycle its contents move on, so a stream of drops or
    of one-element jobs decodes at one wavelet per cycle.

    Parameters: the PE's :class:`wafer_engine.rtl.params.PeParams` (``colors``,
    ``mem_words``, ``acc_words`` and ``max_len`` matter here).

    Attributes:
        head: In(Fetched) -- the input FIFO's head wavelet with its color's row.
        head_valid: In(1) -- the input FIFO is not empty.
        pop: Out(1) -- the head moves into F this cycle (read enable of the FIFO).
        take: In(1) -- the sequencer takes the job in X this cycle.
        job: Out(Job) -- stage X.
        job_valid: Out(1) -- X holds a job.
        p_color: Out(COLOR_BITS) -- the color of the wavelet in P (to look up its counter).
        reduce_k: In(16) -- the REDUCE counter of ``p_color``.
        k_write: Out(1) -- the counter of ``p_color`` becomes ``k_next`` at the clock edge.
        k_next: Out(16) -- its next value: 0 for a CLEAR (or DRAIN_CLEAR) command, else
            ``k + 1``, back to 0 at the row's ``len``.
        dropped: Out(1) -- the wavelet in P is dropped this cycle, as ``kind`` says.
        kind: Out(Decoded) -- what the wavelet in P is.
        busy: Out(1) -- F, P or X holds something.
    """

    def __init__(self, params=None):
        self._params = PeParams() if params is None else params
        super().__init__({
            "head": In(Fetched),
            "head_valid": In(1),
            "pop": Out(1),
            "take": In(1),
            "job": Out(Job),
            "job_valid": Out(1),
            "p_color": Out(COLOR_BITS),
            "reduce_k": In(16),
            "k_write": Out(1),
            "k_next": Out(16),
            "dropped": Out(1),
            "kind": Out(Decoded),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        p = self._params
        len_bits = p.max_len.bit_length()
        row_bits = 16 + len_bits

        # -- F: the fetched wavelet ---------------------------------------------------------
        f, f_valid = Signal(Fetched, name="f"), Signal(name="f_valid")
        fw, ft = f.wavelet, f.task
        f_idx = fw.payload.half.index
        # Length bits beyond max_len never reach the arithmetic: such lengths are errors.
        f_len = ft.len[:len_bits]
        # The index split happens on the way into F, so that F's registers feed the
        # multipliers directly.
        h_idx, h_task = self.head.wavelet.payload.half.index, self.head.task
        f_i = Signal(16)        # idx >> jbits
        f_row = Signal(16)      # AXPY: idx; MAC, GRAD: j = idx & (2**jbits - 1)
        f_cmd = fw.payload.data[:4]
        f_drain = (f_cmd == Command.DRAIN) | (f_cmd == Command.DRAIN_CLEAR)
        f_clear = (f_cmd == Command.CLEAR) | (f_cmd == Command.DRAIN_CLEAR)

        # -- P: products and block ends, registered ----------------------------------------
        pf, p_valid = Signal(Fetched, name="p"), Signal(name="p_valid")
        row_a = Signal(row_bits)        # AXPY: idx * len; MAC, GRAD: j * len
        row_i = Signal(row_bits)        # MAC, GRAD: i * len
        a_end = Signal(17)              # mem_a + len
        b_end = Signal(17)              # mem_b + len
        acc_end = Signal(17)            # acc + len
        k_last = Signal(16)             # len - 1: the REDUCE counter's last value
        store_ok = Signal()             # mem_a + idx < mem_words
        zero = Signal()                 # the value is +0 or -0
        drain, clear = Signal(), Signal()
        pre = Signal(Predecoded)
        pw, pt = pf.wavelet, pf.task
        length = pt.len[:len_bits]
        k = self.reduce_k

        # -- X: sums, checks and the job, from P --------------------------------------------
        # One adder per address field: what is added to the row's base is chosen before it
        # (STORE: idx; REDUCE: the counter k; MAC: the row offsets; GRAD_ACC: the slot in the
        # value field; control wavelets: none).
        data_op = ~pw.control
        mem_a_row = pt.mem_a + Mux(data_op & pre.store, pw.payload.half.index, row_a)
        mem_b_row = pt.mem_b + row_i
        acc_row = pt.acc + Mux(data_op & pre.mac, row_i,
                               Mux(data_op & pre.reduce, k,
                                   Mux(data_op & pre.grad_acc, pw.payload.half.value, 0)))
        index = pt.index_base + Mux(data_op & pre.reduce, k, 0)
        mem_a_ok = row_a + a_end <= p.mem_words
        mem_b_ok = row_i + b_end <= p.mem_words
        acc_ok = Mux(pre.mac, row_i + acc_end <= p.acc_words, pre.acc_ok)
        job = Signal(Job)
        m.d.comb += [
            self.p_color.eq(pw.color),
            job.count.eq(length),
            job.mem_a.eq(mem_a_row),
            job.mem_b.eq(mem_b_row),
            job.acc.eq(acc_row),
            job.data.eq(pw.payload.half.value),
            job.index.eq(index),
            job.color.eq(pt.out_color),
            job.sparse.eq(pt.sparse_out),
            job.relu.eq(pt.relu),
            job.source.eq(pw.color),
        ]
        ok = Signal()       # the wavelet's addresses, length and output color are usable
        kind = self.kind
        with m.If(pre.none):
            m.d.comb += kind.eq(Decoded.NO_TASK)
        with m.Elif(pw.control):
            m.d.comb += [job.drain.eq(drain), job.clear.eq(clear)]
            m.d.comb += ok.eq(pre.len_ok & (drain | clear) & pre.acc_ok
                              & (pre.color_ok | ~drain))
            m.d.comb += kind.eq(Mux(ok, Decoded.JOB, Decoded.ERROR))
        with m.Else():
            with m.If(pre.store):
                m.d.comb += [job.store.eq(1), job.count.eq(1)]
                m.d.comb += ok.eq(store_ok)
            with m.If(pre.axpy | pre.mac):
                m.d.comb += job.fmac.eq(1)
                m.d.comb += ok.eq(pre.len_ok & mem_a_ok & acc_ok)
            with m.If(pre.reduce):
                m.d.comb += [
                    job.reduce.eq(1),
                    job.count.eq(1),
                    job.data.eq(pw.payload.data),
                ]
                m.d.comb += ok.eq(pre.len_ok & pre.acc_ok & pre.color_ok)
            with m.If(pre.grad):
                # The output is one fp32 sum: always dense. GRAD_ACC sends nothing; its slot
                # must lie in acc instead.
                m.d.comb += [job.grad.eq(1), job.sparse.eq(0), job.to_acc.eq(pre.grad_acc)]
                m.d.comb += ok.eq(pre.len_ok & mem_a_ok & mem_b_ok
                                  & Mux(pre.grad_acc, acc_row < p.acc_words, pre.color_ok))
            # The undefined op code 7 sets no flag: ok stays 0.
            skip = pt.zero_skip & zero & (pre.axpy | pre.mac)
            with m.If(~ok):
                m.d.comb += kind.eq(Decoded.ERROR)
            with m.Elif(skip):
                m.d.comb += kind.eq(Decoded.SKIP)
            with m.Else():
                m.d.comb += kind.eq(Decoded.JOB)

        # The REDUCE counter of P's color moves when P's job enters X. Whether it does only
        # needs the predecoded flags (REDUCE and control wavelets need no address sum), so the
        # counters stay off the range checks' paths.
        reduce_ok = pre.reduce & pre.len_ok & pre.acc_ok & pre.color_ok
        clear_ok = (~pre.none & clear & pre.len_ok & pre.acc_ok & (pre.color_ok | ~drain))
        # One incrementer for all colors: P holds the color's counter and row. A counter only
        # ever moves to values below its row's len (and restarts at 0 when the row is
        # written), so "k + 1 >= len" is "k == len - 1", compared beside the incrementer.
        m.d.comb += self.k_next.eq(Mux(pw.control | (k == k_last), 0, k + 1))

        # -- Stage movement -------------------------------------------------------------------
        x_valid = self.job_valid
        is_job = kind == Decoded.JOB
        # P moves on when X is free, whatever it holds: the stage enables then do not wait for
        # P's range checks, which only decide whether X holds a job afterwards.
        x_free = ~x_valid | self.take
        p_moves = p_valid & x_free
        p_free = ~p_valid | p_moves
        f_free = ~f_valid | p_free
        m.d.comb += [
            self.pop.eq(self.head_valid & f_free),
            self.dropped.eq(p_moves & ~is_job),
            self.k_write.eq(p_moves & Mux(pw.control, clear_ok, reduce_ok)),
            self.busy.eq(f_valid | p_valid | x_valid),
        ]
        with m.If(self.take):
            m.d.sync += x_valid.eq(0)
        with m.If(p_moves):
            m.d.sync += [self.job.eq(job), x_valid.eq(is_job)]
            # A job's addresses passed the range checks: their high bits are 0, and X
            # keeps only the low ones (so do the sequencer and the pipeline after it).
            m.d.sync += [
                self.job.count.eq(job.count[:len_bits]),
                self.job.mem_a.eq(job.mem_a[:address_bits(p.mem_words)]),
                self.job.mem_b.eq(job.mem_b[:address_bits(p.mem_words)]),
                self.job.acc.eq(job.acc[:address_bits(p.acc_words)]),
            ]
        with m.If(p_free):
            m.d.sync += [
                pf.eq(f),
                pre.eq(predecode(ft, f.armed, p)),
                p_valid.eq(f_valid),
                row_a.eq(f_row * f_len),
                row_i.eq(f_i * f_len),
                a_end.eq(ft.mem_a + f_len),
                b_end.eq(ft.mem_b + f_len),
                acc_end.eq(ft.acc + f_len),
                k_last.eq(ft.len - 1),
                store_ok.eq(ft.mem_a + f_idx < p.mem_words),
                zero.eq(fw.payload.half.value[:15] == 0),
                drain.eq(f_drain),
                clear.eq(f_clear),
            ]
        with m.If(f_free):
            m.d.sync += [
                f.eq(self.head),
                f_valid.eq(self.head_valid),
                f_i.eq(h_idx >> h_task.jbits),
                f_row.eq(Mux(h_task.op == Op.AXPY, h_idx,
                             h_idx & ~(Const(0xFFFF, 16) << h_task.jbits)[:16])),
            ]
        return m
