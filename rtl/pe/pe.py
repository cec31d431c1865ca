"""The processing element: wavelet-triggered tasks over a local fp16 memory and fp32
accumulators, with a one-slot-per-cycle multiply-accumulate pipeline."""

from amaranth.hdl import Array, Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from wafer_engine.rtl.fp import Fp16Mul, Fp32Add, Fp32ToFp16, relu32
from wafer_engine.rtl.wavelet import LinkSignature, Wavelet
from wafer_engine.rtl.pe.decode import Decoder
from wafer_engine.rtl.pe.job import Decoded, Element, Job
from wafer_engine.rtl.params import PeParams
from wafer_engine.rtl.pe.ports import CountersSignature, PeConfigSignature, PeekSignature, Target
from wafer_engine.rtl.pe.task import TaskEntry

__all__ = ["Pe", "PIPELINE"]

#: Pipeline stages after issue (S1..S10): where each step of an element happens, in cycles
#: after its issue (S0). The fp units' latencies fix the distances between them.
PIPELINE = {
    "mem_data": 1,                                  # mem read issued at S0
    "mul_in": 1,
    "acc_read": 1 + Fp16Mul.latency - 1,            # S3: data arrives with the product
    "add_in": 1 + Fp16Mul.latency,                  # S4
    "acc_write": 1 + Fp16Mul.latency + Fp32Add.latency,             # S8
    "push": 1 + Fp16Mul.latency + Fp32Add.latency + Fp32ToFp16.latency,  # S10
}
_STAGES = PIPELINE["push"]
#: Issue may not read an accumulator that an element in S1..S(_HAZARD) will still write: when
#: the reader reaches S3 those are in S4..S7, before the write at S8 (the read port is
#: transparent to the write port, so a write in S8 is seen by a read in S3).
_HAZARD = PIPELINE["acc_write"] - PIPELINE["acc_read"] - 1


class Pe(wiring.Component):
    """A processing element with sparsity-aware dataflow triggering (see docs/pe.md).

    Wavelets from the router's RAMP output enter one input FIFO, in arrival order. The decoder
    looks up the task of the head's color, resolves addresses and either drops the wavelet
    (counted: zero skipped, no task, error) or hands a job to the sequencer, which issues one
    element per cycle into a fixed 10-stage pipeline: mem read, fp16 x fp16 multiply, acc read,
    fp32 add, acc write or output conversion, output FIFO. Issue stalls while it would read an
    accumulator that an element in flight still has to write; the whole pipeline stalls only
    when a result meets a full output FIFO. The next job's first element issues in the cycle
    after the previous job's last one.

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

        table = [Signal(TaskEntry, name=f"task_{c}") for c in range(p.colors)]
        reduce_k = [Signal(16, name=f"reduce_k_{c}") for c in range(p.colors)]

        # One read and one write port each: simple dual-port block RAMs.
        m.submodules.mem = mem = Memory(shape=16, depth=p.mem_words, init=[])
        mem_wr = mem.write_port()
        mem_rd = mem.read_port()
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
        s1, s3, s4, s8, s10 = (pipe[PIPELINE["mul_in"] - 1], pipe[PIPELINE["acc_read"] - 1],
                               pipe[PIPELINE["add_in"] - 1], pipe[PIPELINE["acc_write"] - 1],
                               pipe[-1])

        m.submodules.mul = mul = Fp16Mul()
        m.submodules.add = add = Fp32Add()
        m.submodules.to16 = to16 = Fp32ToFp16()

        # The one global stall: a result in S10 that must go into a full output FIFO. Every
        # register of the datapath (fp units and memory read ports included) holds meanwhile,
        # so relative timing inside the pipeline never changes.
        half = to16.result
        push = s10.out & (~s10.sparse | half[:15].any())
        en = Signal()
        m.d.comb += en.eq(~(push & ~out_fifo.w_rdy))
        result = Signal(Wavelet)
        m.d.comb += [
            result.payload.data.eq(Mux(s10.sparse, Cat(half, s10.index), s10.data)),
            result.color.eq(s10.color),
            out_fifo.w_data.eq(result),
            out_fifo.w_en.eq(push & en),
        ]

        # Decode: the head wavelet against its color's task.
        m.submodules.decode = dec = Decoder(p)
        m.d.comb += [
            dec.wavelet.eq(head),
            dec.task.eq(Array(t.as_value() for t in table)[head.color]),
            dec.reduce_k.eq(Array(reduce_k)[head.color]),
        ]

        # Sequencer: job register J, fed by the decoded job register D.
        d, d_valid = Signal(Job, name="d"), Signal(name="d_valid")
        job, j_valid = Signal(Job, name="j"), Signal(name="j_valid")
        e = Signal(16, name="element")
        phase = Signal(2, name="grad_phase")    # GRAD: 0 = read x, 1 = read w and issue, 2-3 wait
        grad_x = job.grad & (phase == 0)
        grad_w = job.grad & (phase == 1)
        last_e = e == job.count - 1
        last = Mux(job.grad, grad_w & last_e, last_e)
        acc_addr = (job.acc + e)[:16]
        mem_addr = Mux(grad_x, job.mem_b + e, job.mem_a + e)[:16]
        reads_acc = job.fmac | job.reduce | job.drain
        hazard = reads_acc & Cat(st.writes_acc & (st.acc == acc_addr)
                                 for st in pipe[:_HAZARD]).any()
        issue = Signal()
        j_load = Signal()
        m.d.comb += [
            issue.eq(en & j_valid & ~hazard),
            j_load.eq(en & (~j_valid | (issue & last))),
        ]
        with m.If(issue):
            with m.If(last):
                m.d.sync += [e.eq(0), phase.eq(0)]
            with m.Elif(job.grad):
                # GRAD issues one product every Fp32Add.latency cycles: each add needs the
                # previous sum, which S8 forwards straight into S4.
                m.d.sync += phase.eq(phase + 1)
                with m.If(phase == 3):
                    m.d.sync += e.eq(e + 1)
            with m.Else():
                m.d.sync += e.eq(e + 1)
        with m.If(j_load):
            m.d.sync += [job.eq(d), j_valid.eq(d_valid)]

        drop = dec.kind != Decoded.JOB
        pop = Signal()
        m.d.comb += [
            pop.eq(en & in_fifo.r_rdy & (drop | ~d_valid | j_load)),
            in_fifo.r_en.eq(pop),
        ]
        with m.If(j_load):
            m.d.sync += d_valid.eq(0)
        with m.If(pop & ~drop):
            m.d.sync += [d.eq(dec.job), d_valid.eq(1)]
            for c in range(p.colors):
                with m.If(head.color == c):
                    with m.If(dec.job.reduce):
                        m.d.sync += reduce_k[c].eq(dec.reduce_k_next)
                    with m.If(dec.job.clear):
                        m.d.sync += reduce_k[c].eq(0)

        element = Signal(Element)
        m.d.comb += [
            element.fmac.eq(job.fmac),
            element.grad_x.eq(grad_x),
            element.grad_w.eq(grad_w),
            element.reduce.eq(job.reduce),
            element.drain.eq(job.drain),
            element.clear.eq(job.clear),
            element.first.eq(e == 0),
            element.last.eq(last_e),
            element.acc.eq(acc_addr),
            element.data.eq(job.data),
            element.index.eq(job.index + e),
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
            mem_rd.addr.eq(Mux(j_valid, mem_addr, peek.addr)),
            mem_rd.en.eq(en),
        ]

        # S1: mem data -> multiplier (GRAD: the x latched one cycle earlier times w).
        gx = Signal(16)
        with m.If(en & s1.grad_x):
            m.d.sync += gx.eq(mem_rd.data)
        m.d.comb += [
            mul.a.eq(Mux(s1.grad_w, gx, s1.data[:16])),
            mul.b.eq(mem_rd.data),
            mul.valid.eq(s1.fmac | s1.grad_w),
            mul.en.eq(en),
        ]

        # S3: accumulator read, so that the data meets the product in S4.
        m.d.comb += [
            acc_rd.addr.eq(Mux(s3.valid, s3.acc, peek.addr)),
            acc_rd.en.eq(en),
        ]

        # S4: adder. REDUCE adds its payload; GRAD adds to the forwarded running sum.
        m.d.comb += [
            add.a.eq(Mux(s4.reduce, s4.data, mul.result)),
            add.b.eq(Mux(s4.grad_w, Mux(s4.first, 0, add.result), acc_rd.data)),
            add.valid.eq(s4.fmac | s4.reduce | s4.grad_w),
            add.en.eq(en),
        ]

        # S8: accumulator write, result selection, ReLU and fp16 conversion of sparse outputs.
        value = Mux(s8.drain, s8.data, add.result)
        acc_dp = en & s8.writes_acc
        cfg_acc = cfg.valid & (cfg.target == Target.ACC) & (cfg.addr < p.acc_words)
        m.d.comb += [
            acc_wr.addr.eq(Mux(acc_dp, s8.acc, cfg.addr)),
            acc_wr.data.eq(Mux(acc_dp, Mux(s8.clear, 0, add.result), cfg.data[:32])),
            acc_wr.en.eq(acc_dp | cfg_acc),
            to16.a.eq(Mux(s8.relu, relu32(value), value)),
            to16.valid.eq(s8.out & s8.sparse),
            to16.en.eq(en),
        ]

        with m.If(en):
            m.d.sync += s1.eq(Mux(issue, element.as_value(), 0))
            for s in range(1, _STAGES):
                src, dst = pipe[s - 1], pipe[s]
                m.d.sync += dst.eq(src)
                if src is s4:       # a drained accumulator travels alongside the adder
                    m.d.sync += dst.data.eq(Mux(s4.drain, acc_rd.data, s4.data))
                elif src is s8:
                    m.d.sync += dst.data.eq(value)

        # Configuration writes to the task table (mem and acc writes are above).
        with m.If(cfg.valid & (cfg.target == Target.TASK)):
            for c in range(p.colors):
                with m.If(cfg.addr[1:] == c):
                    row = table[c].as_value()
                    with m.If(cfg.addr[0]):
                        m.d.sync += row[64:].eq(cfg.data)
                    with m.Else():
                        m.d.sync += row[:64].eq(cfg.data)
                    # A rewritten task starts its REDUCE sequence afresh.
                    m.d.sync += reduce_k[c].eq(0)

        # Peek: mem and acc through the datapath read ports (free while idle).
        peek_target = Signal(Target)
        peek_ok = Signal()
        peek_word = Signal(64)
        task_row = Array(t.as_value() for t in table)[peek.addr[1:]]
        with m.Switch(peek.target):
            with m.Case(Target.TASK):
                m.d.sync += [peek_ok.eq(peek.addr < 2 * p.colors),
                             peek_word.eq(Mux(peek.addr[0], task_row[64:], task_row[:64]))]
            with m.Case(Target.MEM):
                m.d.sync += peek_ok.eq(peek.addr < p.mem_words)
            with m.Case(Target.ACC):
                m.d.sync += peek_ok.eq(peek.addr < p.acc_words)
            with m.Case(Target.STATE):
                m.d.sync += [peek_ok.eq(peek.addr < p.colors),
                             peek_word.eq(Array(reduce_k)[peek.addr])]
        m.d.sync += peek_target.eq(peek.target)
        with m.If(peek_ok):
            with m.Switch(peek_target):
                with m.Case(Target.MEM):
                    m.d.comb += peek.data.eq(mem_rd.data)
                with m.Case(Target.ACC):
                    m.d.comb += peek.data.eq(acc_rd.data)
                with m.Default():
                    m.d.comb += peek.data.eq(peek_word)

        # Status and counters.
        busy = (in_fifo.r_rdy | d_valid | j_valid | Cat(st.valid for st in pipe).any()
                | out_fifo.r_rdy)
        m.d.comb += self.idle.eq(~busy)
        events = {
            "busy_cycles": busy,
            "idle_cycles": ~busy,
            "fmac_issues": issue & (job.fmac | grad_w),
            "wavelets_in": in_fifo.w_en & in_fifo.w_rdy,
            "wavelets_out": self.o.valid,
            "zeros_skipped": pop & (dec.kind == Decoded.SKIP),
            "no_task": pop & (dec.kind == Decoded.NO_TASK),
            "errors": pop & (dec.kind == Decoded.ERROR),
        }
        for name, event in events.items():
            counter = getattr(cnt, name)
            m.d.sync += counter.eq(counter + event)
        with m.If(events["no_task"]):
            m.d.sync += self.no_task_seen.eq(1)
        return m
