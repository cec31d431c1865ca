"""The processing element: wavelet-triggered tasks over a local fp16 memory and fp32
accumulators, with a one-slot-per-cycle multiply-accumulate pipeline."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from wafer_engine.rtl.fp import Fp16Mul, Fp32Add, Fp32ToFp16
from wafer_engine.rtl.wavelet import LinkSignature, Wavelet
from wafer_engine.rtl.pe.decode import Decoder
from wafer_engine.rtl.pe.job import Decoded, Element, Job, address_bits
from wafer_engine.rtl.params import PeParams
from wafer_engine.rtl.pe.ports import CountersSignature, PeConfigSignature, PeekSignature, Target
from wafer_engine.rtl.pe.task import TaskEntry

__all__ = ["Pe", "PIPELINE", "OUTPUT_ROUND_TRIP"]

#: Pipeline stages after issue (S1..S11): where each step of an element happens, in cycles
#: after its issue (S0). The block RAMs' read data is registered once before use (their
#: clock-to-output time is most of a cycle); the fp units' latencies fix the other distances.
PIPELINE = {
    "mem_data": 1,                                  # mem reads issued at S0, data at S1
    "mul_in": 2,                                    # ... registered: multiplier input
    "acc_read": 2 + Fp16Mul.latency - 2,            # S3: read, S4 data, S5 registered
    "add_in": 2 + Fp16Mul.latency,                  # S5: acc data meets the product
    "acc_write": 2 + Fp16Mul.latency + Fp32Add.latency,             # S9
    "push": 2 + Fp16Mul.latency + Fp32Add.latency + Fp32ToFp16.latency,  # S11
}
_STAGES = PIPELINE["push"]
#: Issue may not read an accumulator that an element in S1..S(_HAZARD) will still write.
#: A writer Fp32Add.latency cycles ahead is at the adder's output (S9) when the reader is at
#: its input (S5): its sum goes straight to the adder's input. One a cycle further ahead is
#: at the adder's output when the reader's acc data is registered (S4): its sum replaces the
#: data. Writers further ahead have written when the reader reads at S3 (the read port is
#: transparent to the write port).
_HAZARD = PIPELINE["acc_write"] - PIPELINE["add_in"] - 1
#: A GRAD group: up to Fp32Add.latency jobs whose elements issue round-robin, so that each
#: job's element meets its own previous running sum at the adder's output.
_GROUP = Fp32Add.latency
#: Cycles from an output element's issue to the next issue its credit allows, when the output
#: link takes results as they come: pushed at S11, read from the FIFO the cycle after, the
#: credit usable the cycle after that. Results stream at one per cycle while ``out_depth`` is at
#: least this; ``out_depth = d`` below it gives ``d`` results per round trip.
OUTPUT_ROUND_TRIP = PIPELINE["push"] + 2


class Pe(wiring.Component):
    """A processing element with sparsity-aware dataflow triggering (see docs/pe.md).

    Wavelets from the router's RAMP output enter one input FIFO, in arrival order. The decoder
    (three registered stages: fetch with the task row, products, job) resolves addresses and
    either drops the wavelet (counted: zero skipped, no task, error) or hands a job to the
    sequencer, which issues one element per cycle into a fixed 11-stage pipeline: mem reads,
    fp16 x fp16 multiply, acc read, fp32 add, acc write or output conversion, output FIFO.
    Sums an element needs before they are written (the adder's latency or one cycle more
    ahead) are forwarded to the adder; issue stalls only for an accumulator written by one of
    the three elements issued just before. Consecutive GRAD jobs of one color (up to the
    adder's latency) issue their elements round-robin, so each job's running sum is at the
    adder's output when its next element needs it. The pipeline never stalls: an element
    with a result for the output FIFO issues only with a credit (a place reserved in the
    FIFO), so issue is the one place that waits for the output link. The next job's first
    element issues in the cycle after the previous job's last one.

    Parameters:
        params: a :class:`wafer_engine.rtl.params.PeParams` (default: the default PE): colors,
            fp16 memory words, fp32 accumulators, longest vector (task ``len``), input and
            output FIFO depths in wavelets.

    Attributes:
        i: In(LinkSignature(colors)) -- wavelets from the router's RAMP output. ``ready`` has
            every color set while the input FIFO has room.
        o: Out(LinkSignature(colors)) -- results to the router's RAMP input; ``valid`` only for
            a color whose ``ready`` bit is set, so every valid cycle is a transfer.
        cfg: In(PeConfigSignature()) -- task table, mem and acc writes (while idle).
        peek: In(PeekSignature()) -- reads of the same, one cycle later (while idle).
        counters: Out(CountersSignature()) -- 32-bit event counters.
        no_task_seen: Out(1) -- sticky: a wavelet arrived on a color without a task.
        idle: Out(1) -- nothing queued or in flight (the cycle counts as idle).
    """

    def __init__(self, params=None):
        self._params = params = PeParams() if params is None else params
        colors = params.colors
        super().__init__({
            "i": In(LinkSignature(colors)),
            "o": Out(LinkSignature(colors)),
            "cfg": In(PeConfigSignature()),
            "peek": In(PeekSignature()),
            "counters": Out(CountersSignature()),
            "no_task_seen": Out(1),
            "idle": Out(1),
        })

    @property
    def params(self):
        """The :class:`wafer_engine.rtl.params.PeParams` this PE was built with."""
        return self._params

    def elaborate(self, platform):
        m = Module()
        p = self._params
        cfg, peek, cnt = self.cfg, self.peek, self.counters
        wavelet_bits = Wavelet.as_shape().size

        # The task table in distributed RAM, one memory per configuration word, with one
        # asynchronous read port shared by the decoder (the input FIFO's head) and peek (while
        # the input FIFO is empty). Reset cannot clear a memory: a row counts as armed (its op
        # valid) once its word 1 has been written since reset, and reads as NONE before.
        row_bits = TaskEntry.as_shape().size
        m.submodules.task_lo = task_lo = Memory(shape=64, depth=p.colors, init=[])
        m.submodules.task_hi = task_hi = Memory(shape=row_bits - 64, depth=p.colors, init=[])
        task_lo_wr, task_hi_wr = task_lo.write_port(), task_hi.write_port()
        task_lo_rd = task_lo.read_port(domain="comb")
        task_hi_rd = task_hi.read_port(domain="comb")
        armed = Signal(p.colors)
        # The REDUCE counters, one per color, in distributed RAM too: the decoder moves only
        # the counter of P's color, so one write port does (registers would need an enable and
        # a write multiplexer per color). A counter reads as 0 until it is written after reset
        # or after its row was rewritten (`reduce_k_set`).
        m.submodules.reduce_k = reduce_k = Memory(shape=16, depth=p.colors, init=[])
        reduce_k_wr = reduce_k.write_port()
        reduce_k_rd = reduce_k.read_port(domain="comb")
        reduce_k_set = Signal(p.colors)

        # mem has two read ports (GRAD reads both operands of a product in one cycle) and one
        # write port: two simple dual-port block RAMs holding the same data. acc has one each.
        m.submodules.mem = mem = Memory(shape=16, depth=p.mem_words, init=[])
        mem_wr = mem.write_port()
        mem_rd = mem.read_port()
        mem_rd2 = mem.read_port()
        m.submodules.acc = acc = Memory(shape=32, depth=p.acc_words, init=[])
        acc_wr = acc.write_port()
        acc_rd = acc.read_port(transparent_for=[acc_wr])

        # Input: every color is accepted while there is room, so that a wavelet on a color
        # without a task is seen (and reported) instead of wedging the router.
        m.submodules.in_fifo = in_fifo = SyncFIFO(width=wavelet_bits, depth=p.in_depth)
        m.d.comb += [
            self.i.ready.eq(Mux(in_fifo.w_rdy, (1 << p.colors) - 1, 0)),
            in_fifo.w_data.eq(self.i.wavelet),
            in_fifo.w_en.eq(self.i.valid & (self.i.ready >> self.i.wavelet.color)[0]),
        ]
        head = Wavelet(in_fifo.r_data)

        m.submodules.out_fifo = out_fifo = SyncFIFO(width=wavelet_bits, depth=p.out_depth)
        out_head = Wavelet(out_fifo.r_data)
        m.d.comb += [
            self.o.wavelet.eq(out_head),
            self.o.valid.eq(out_fifo.r_rdy & (self.o.ready >> out_head.color)[0]),
            out_fifo.r_en.eq(self.o.valid),
        ]

        # pipe[s - 1] holds the element in stage Ss.
        pipe = [Signal(Element, name=f"s{s}") for s in range(1, _STAGES + 1)]
        s1, s_mul, s_acc, s_add, s_wr, s_push = (
            pipe[0], pipe[PIPELINE["mul_in"] - 1], pipe[PIPELINE["acc_read"] - 1],
            pipe[PIPELINE["add_in"] - 1], pipe[PIPELINE["acc_write"] - 1], pipe[-1])
        s_data = pipe[PIPELINE["add_in"] - 2]        # acc data, registered into s_add
        s_wr_in = pipe[PIPELINE["acc_write"] - 2]    # one stage before the acc write

        m.submodules.mul = mul = Fp16Mul()
        m.submodules.add = add = Fp32Add()
        m.submodules.to16 = to16 = Fp32ToFp16()

        # The pipeline never stalls: an element that will put a result into the output FIFO
        # issues only with a credit, a place in the FIFO reserved for it. `reserved` counts
        # the results in the FIFO plus the credits of elements on their way (taken at issue,
        # given back when the result leaves the FIFO or is dropped as a sparse zero in S11),
        # so a result reaching S11 always finds room. Issue is the one place that waits, and
        # no enable fans out to the datapath's registers. A stream of outputs runs at one per
        # cycle while out_depth covers a credit's round trip (OUTPUT_ROUND_TRIP cycles).
        reserved = Signal(range(p.out_depth + 1), name="out_reserved")
        credit = Signal(name="out_credit")
        m.d.comb += credit.eq(reserved != p.out_depth)
        # ReLU of a sparse output: a negative non-NaN result converts to +0, so the
        # converter sees the value itself and S11's ``relu`` (set from S10, see below) says
        # whether to replace its output by +0 (fp16 0x0000).
        half = Mux(s_push.relu, 0, to16.result)
        push = s_push.out & (~s_push.sparse | half[:15].any())
        result = Signal(Wavelet)
        m.d.comb += [
            result.payload.data.eq(Mux(s_push.sparse, Cat(half, s_push.index), s_push.data)),
            result.color.eq(s_push.color),
            out_fifo.w_data.eq(result),
            out_fifo.w_en.eq(push),
        ]

        # Decode: the head wavelet with its color's row and armed bit, three stages.
        m.submodules.decode = dec = Decoder(p)
        x, x_valid = dec.job, dec.job_valid
        m.d.comb += [
            task_lo_rd.addr.eq(Mux(in_fifo.r_rdy, head.color, peek.addr[1:])),
            task_hi_rd.addr.eq(task_lo_rd.addr),
            dec.head.wavelet.eq(head),
            dec.head.task.eq(Cat(task_lo_rd.data, task_hi_rd.data)),
            dec.head.armed.eq(armed.bit_select(task_lo_rd.addr, 1)),
            dec.head_valid.eq(in_fifo.r_rdy),
            in_fifo.r_en.eq(dec.pop),
            # The counter of P's color; while the decoder is empty, the one peek asks for.
            reduce_k_rd.addr.eq(Mux(dec.busy, dec.p_color, peek.addr[:len(dec.p_color)])),
            dec.reduce_k.eq(reduce_k_rd.data
                            & reduce_k_set.bit_select(reduce_k_rd.addr, 1).replicate(16)),
            reduce_k_wr.addr.eq(dec.p_color),
            reduce_k_wr.data.eq(dec.k_next),
            reduce_k_wr.en.eq(dec.k_write),
        ]
        with m.If(dec.k_write):
            m.d.sync += reduce_k_set.bit_select(dec.p_color, 1).eq(1)

        # Sequencer: job register J, fed by the decoder's X. Addresses, index and count
        # advance with every issue, so issue compares and drives registers only.
        job, j_valid = Signal(Job, name="j"), Signal(name="j_valid")
        last = job.count == 1
        # GRAD group: slot 0..3 of a round; n jobs (1..4); round 0 while `first`. The ring
        # ctx[0..3] holds each slot's (mem_a, mem_b, acc): ctx[0] is J's own and the ring
        # turns every cycle, so the issuing slot is always ctx[0]. (acc is GRAD_ACC's slot.)
        slot = Signal(range(_GROUP), name="grad_slot")
        n = Signal(range(_GROUP + 1), name="grad_jobs")
        first = Signal(name="grad_first")
        # Addresses, counts and their increments keep only the bits a checked job needs
        # (the decoder clears the others): a job's last increment may wrap, unused.
        len_bits = p.max_len.bit_length()
        mem_bits, acc_bits = address_bits(p.mem_words), address_bits(p.acc_words)
        ring = [Signal(32 + acc_bits, name=f"grad_ctx{k}") for k in range(1, _GROUP)]
        grad_slot = job.grad & (slot < n)
        # A GRAD job of the same color in X joins the group at the next free slot of round 0
        # (only if there are more rounds: one-element jobs simply follow each other).
        # Output credits: a REDUCE or drain element takes one when it issues; a GRAD job takes
        # one with its first element (round 0), for the sum its last element will push. Once a
        # group has started its elements must issue exactly _GROUP cycles apart (each meets
        # its running sum at the adder's output), so a GRAD job waits for its credit before
        # its first element only: the group's first job holds slot 0 of round 0, a job in X
        # does not join without one. GRAD_ACC jobs send nothing and take no credit (a group
        # is of one color, so of one op).
        grad_credit = credit | job.to_acc
        join = (job.grad & first & ~last & (slot == n) & x_valid & x.grad
                & (x.source == job.source) & grad_credit)
        grad_hold = job.grad & first & (slot == 0) & ~grad_credit
        hazard = ((job.fmac | job.reduce | job.drain)
                  & Cat(st.writes_acc & (st.acc == job.acc) for st in pipe[:_HAZARD]).any())
        needs_credit = job.reduce | job.drain
        issue = Signal()
        done = Signal()
        j_load = Signal()
        take_credit = Signal()
        m.d.comb += [
            issue.eq(j_valid & Mux(job.grad, (grad_slot & ~grad_hold) | join,
                                   ~hazard & (credit | ~needs_credit))),
            done.eq(issue & last & (~job.grad | (slot == n - 1))),
            j_load.eq(~j_valid | done),
            dec.take.eq(j_load | (j_valid & join)),
            take_credit.eq(issue & Mux(job.grad, first & ~job.to_acc, needs_credit)),
        ]
        give_back = out_fifo.r_en.as_unsigned() + (s_push.out & ~push).as_unsigned()
        m.d.sync += reserved.eq(reserved + take_credit - give_back)

        def next_mem(addr):
            return Cat((addr + 1)[:mem_bits], Const(0, 16 - mem_bits))

        src_a = Mux(join, x.mem_a, job.mem_a)
        src_b = Mux(join, x.mem_b, job.mem_b)
        src_acc = Mux(join, x.acc, job.acc)[:acc_bits]
        with m.If(j_valid & job.grad & ~grad_hold):
            m.d.sync += [
                Cat(job.mem_a, job.mem_b, job.acc[:acc_bits]).eq(ring[0]),
                ring[-1].eq(Cat(next_mem(src_a), next_mem(src_b), src_acc)),
                slot.eq(slot + 1),
            ]
            for k in range(len(ring) - 1):
                m.d.sync += ring[k].eq(ring[k + 1])
            with m.If(join):
                m.d.sync += n.eq(n + 1)
            with m.If(slot == _GROUP - 1):
                m.d.sync += [job.count.eq((job.count - 1)[:len_bits]), first.eq(0)]
        with m.Elif(issue):
            m.d.sync += [
                job.count.eq((job.count - 1)[:len_bits]),
                job.mem_a.eq((job.mem_a + 1)[:mem_bits]),
                job.acc.eq((job.acc + 1)[:acc_bits]),
                job.index.eq(job.index + 1),
            ]
        with m.If(j_load):
            m.d.sync += [job.eq(x), j_valid.eq(x_valid), slot.eq(0), n.eq(1), first.eq(1)]

        element = Signal(Element)
        m.d.comb += [
            element.fmac.eq(job.fmac),
            element.grad.eq(job.grad),
            element.reduce.eq(job.reduce),
            element.drain.eq(job.drain),
            element.clear.eq(job.clear),
            element.first.eq(first),
            element.last.eq(last),
            element.to_acc.eq(job.to_acc),
            element.acc.eq(job.acc),
            element.data.eq(job.data),
            element.index.eq(job.index),
            element.color.eq(job.color),
            element.sparse.eq(job.sparse),
            element.relu.eq(job.relu),
        ]

        # S0: STORE writes here, in program order with the reads of the elements around it.
        store = issue & job.store
        cfg_mem = cfg.valid & (cfg.target == Target.MEM) & (cfg.addr < p.mem_words)
        m.d.comb += [
            mem_wr.addr.eq(Mux(store, job.mem_a, cfg.addr)),
            mem_wr.data.eq(Mux(store, job.data[:16], cfg.data[:16])),
            mem_wr.en.eq(store | cfg_mem),
            mem_rd.addr.eq(Mux(j_valid, src_a, peek.addr)),
            mem_rd2.addr.eq(src_b),
        ]

        # S1: mem data, registered; S2: -> multiplier (GRAD: both operands from mem).
        mem_q, mem_q2 = Signal(16), Signal(16)
        m.d.sync += [mem_q.eq(mem_rd.data), mem_q2.eq(mem_rd2.data)]
        m.d.comb += [
            mul.a.eq(Mux(s_mul.grad, mem_q2, s_mul.data[:16])),
            mul.b.eq(mem_q),
            mul.valid.eq(s_mul.fmac | s_mul.grad),
        ]

        # S3: accumulator read; S4: data, registered, so that it meets the product in S5.
        # The S4 -> S5 register takes the sum of an element one cycle further ahead (in S9,
        # the adder output) when that one writes the accumulator read: it came too late for
        # the read port.
        acc_wr_data = Mux(s_wr.clear, 0, add.result)
        acc_q = Signal(32)
        # S5's adder input b is either acc_q or a sum at the adder's output (or +0): a GRAD
        # element's running sum, or the accumulator the element in S9 writes. Both decided
        # a stage early, so the mux before the adder has registered selects.
        sum_sel, sum_zero = Signal(), Signal()
        m.d.sync += [
            acc_q.eq(Mux(s_data.fwd, acc_wr_data, acc_rd.data)),
            sum_sel.eq(s_data.grad | (s_data.reads_acc & s_wr_in.writes_acc
                                      & (s_data.acc == s_wr_in.acc))),
            sum_zero.eq(Mux(s_data.grad, s_data.first, s_wr_in.clear)),
        ]
        m.d.comb += acc_rd.addr.eq(Mux(s_acc.valid, s_acc.acc, peek.addr))

        # S5: adder. REDUCE adds its payload, everything else the product.
        acc_value = Mux(sum_sel, Mux(sum_zero, 0, add.result), acc_q)
        m.d.comb += [
            add.a.eq(Mux(s_add.reduce, s_add.data, mul.result)),
            add.b.eq(acc_value),
            add.valid.eq(s_add.fmac | s_add.reduce | s_add.grad),
        ]

        # S9: accumulator write, result selection and fp16 conversion of sparse outputs (their
        # ReLU is applied in S11).
        value = Mux(s_wr.drain, s_wr.data, add.result)
        acc_dp = s_wr.writes_acc
        cfg_acc = cfg.valid & (cfg.target == Target.ACC) & (cfg.addr < p.acc_words)
        m.d.comb += [
            acc_wr.addr.eq(Mux(acc_dp, s_wr.acc, cfg.addr)),
            acc_wr.data.eq(Mux(acc_dp, acc_wr_data, cfg.data[:32])),
            acc_wr.en.eq(acc_dp | cfg_acc),
            to16.a.eq(value),
            to16.valid.eq(s_wr.out & s_wr.sparse),
        ]

        # Only the kind bits make a bubble: the other fields may hold anything.
        m.d.sync += s1.eq(element)
        with m.If(~issue):
            m.d.sync += [s1.fmac.eq(0), s1.grad.eq(0), s1.reduce.eq(0), s1.drain.eq(0),
                         s1.clear.eq(0)]
        for s in range(1, _STAGES):
            src, dst = pipe[s - 1], pipe[s]
            m.d.sync += dst.eq(src)
            if dst is s_data:       # decided a stage early: acc_q's mux selects on registers
                m.d.sync += dst.fwd.eq(src.reads_acc & s_wr_in.writes_acc
                                       & (src.acc == s_wr_in.acc))
            elif src is s_add:      # a drained accumulator travels alongside the adder
                # (S6..S9's data is only read for a drain: no need to keep the payload)
                m.d.sync += dst.data.eq(acc_value)
            elif src is s_wr:
                m.d.sync += dst.data.eq(value)
            elif dst is s_push:     # from here on: ReLU zeroes this result
                negative = src.data[31] & ~((src.data[23:31] == 0xFF) & src.data[:23].any())
                m.d.sync += dst.relu.eq(src.relu & negative)

        # Configuration writes to the task table (mem and acc writes are above).
        cfg_task = cfg.valid & (cfg.target == Target.TASK) & (cfg.addr < 2 * p.colors)
        cfg_color = cfg.addr[1:]
        m.d.comb += [
            task_lo_wr.addr.eq(cfg_color),
            task_lo_wr.data.eq(cfg.data),
            task_lo_wr.en.eq(cfg_task & ~cfg.addr[0]),
            task_hi_wr.addr.eq(cfg_color),
            task_hi_wr.data.eq(cfg.data),
            task_hi_wr.en.eq(cfg_task & cfg.addr[0]),
        ]
        with m.If(cfg_task):
            for c in range(p.colors):
                with m.If(cfg_color == c):
                    with m.If(cfg.addr[0]):
                        m.d.sync += armed[c].eq(1)
                    # A rewritten task starts its REDUCE sequence afresh.
                    m.d.sync += reduce_k_set[c].eq(0)

        # Peek: mem and acc through the datapath read ports, the task table through the
        # decoder's read port, the REDUCE counters through the decoder's counter read port (all
        # free while idle). peek_word holds a task word or counter, else 0, so the output is
        # an AND-OR of three sources with registered selects.
        peek_mem, peek_acc = Signal(), Signal()
        peek_word = Signal(64)
        # Word 1 of a row not armed since reset reads as 0 (op NONE).
        task_hi_peek = (task_hi_rd.data
                        & armed.bit_select(task_lo_rd.addr, 1).replicate(row_bits - 64))
        m.d.sync += [
            peek_mem.eq((peek.target == Target.MEM) & (peek.addr < p.mem_words)),
            peek_acc.eq((peek.target == Target.ACC) & (peek.addr < p.acc_words)),
            peek_word.eq(0),
        ]
        with m.If((peek.target == Target.TASK) & (peek.addr < 2 * p.colors)):
            m.d.sync += peek_word.eq(Mux(peek.addr[0], task_hi_peek, task_lo_rd.data))
        with m.If((peek.target == Target.STATE) & (peek.addr < p.colors)):
            m.d.sync += peek_word.eq(dec.reduce_k)
        m.d.comb += peek.data.eq(peek_word | Mux(peek_mem, mem_rd.data, 0)
                                 | Mux(peek_acc, acc_rd.data, 0))

        # Status and counters. A drop is counted one cycle after it leaves P (registered here,
        # so that P's range checks do not feed the counters' carry chains); the cycle with
        # the registered drop counts as busy.
        drop_q, drop_kind = Signal(), Signal(Decoded)
        m.d.sync += [drop_q.eq(dec.dropped), drop_kind.eq(dec.kind)]
        busy = (in_fifo.r_rdy | dec.busy | j_valid | Cat(st.valid for st in pipe).any()
                | out_fifo.r_rdy | drop_q)
        m.d.comb += self.idle.eq(~busy)
        events = {
            "busy_cycles": busy,
            "idle_cycles": ~busy,
            "fmac_issues": issue & (job.fmac | job.grad),
            "wavelets_in": in_fifo.w_en & in_fifo.w_rdy,
            "wavelets_out": self.o.valid,
            "zeros_skipped": drop_q & (drop_kind == Decoded.SKIP),
            "no_task": drop_q & (drop_kind == Decoded.NO_TASK),
            "errors": drop_q & (drop_kind == Decoded.ERROR),
        }
        for name, event in events.items():
            counter = getattr(cnt, name)
            m.d.sync += counter.eq(counter + event)
        with m.If(events["no_task"]):
            m.d.sync += self.no_task_seen.eq(1)
        return m
