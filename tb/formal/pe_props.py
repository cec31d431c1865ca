# amaranth: UnusedElaboratable=no
"""Formal harness for the PE's input side: every wavelet taken from the link is accounted for
exactly once.

:class:`PeProps` instantiates a small :class:`~wafer_engine.rtl.pe.Pe` (:data:`SMALL`), drives
its input link, its output ``ready`` mask, its peek port and its config port from free solver
variables in every cycle, and checks, in every cycle:

* link rules: ``i.ready`` has every color set while the input FIFO has room and none while it
  is full; ``o.valid`` only for a color whose ready bit is set;
* occupancy: the input FIFO holds at most ``in_depth`` wavelets; the decoder pops it only while
  it has a head;
* conservation: ``accepted == jobs + skipped + no_task + errors + in flight`` (modulo the
  counter width), where ``accepted`` counts link transfers, ``jobs`` the decoded jobs the
  sequencer takes from the decoder's stage X, the three drop counts the decoder's drops by
  kind, and ``in flight`` the input FIFO's level, stages F, P, X, and a drop made in the
  previous cycle (which the PE counts one cycle late);
* counters: the PE's ``wavelets_in``, ``zeros_skipped``, ``no_task`` and ``errors`` equal the
  harness's counts of the same events (modulo the counter width), and ``no_task_seen`` is set
  exactly once a no-task drop has been counted;
* no duplication (bounded runs, where the counters do not wrap): ``jobs + drops <= accepted``;
* tracking (bounded runs): for a solver-chosen ``N``, the ``N``-th wavelet the decoder
  resolves (a job taken, or a drop; a take before a drop in the same cycle) is the ``N``-th
  accepted: same color, and a job carries its control bit (a DRAIN/CLEAR job) and its fp16
  value. As ``N`` is arbitrary this rules out loss, duplication and reordering on the way
  from the link to the sequencer;
* task binding (bounded runs): the harness keeps a shadow of each color's armed bit and op
  from the config writes it sees; a drop is NO_TASK exactly when its color's shadow row is
  not armed or NONE, and a job taken for a color is the kind its op makes (STORE, FMAC for
  AXPY and MAC, REDUCE, GRAD; DRAIN/CLEAR for a control wavelet).

Configuration: the config port is free too (``valid``, ``target``, ``addr``, ``data`` from
the solver), under the PE's rule that config writes happen only while it is idle
(``idle``); so the solver writes any task table, arms or disarms any color, and rewrites it
between bursts of traffic. With ``cfg_any_time=True`` that assumption is dropped: the
accounting properties must hold even for writes into a busy PE (task binding is then not
checked, since a row may change under a wavelet being decoded).

Holds: the PE's pipeline never stalls; its input side is held only by the sequencer, which
takes X's job when the previous job has issued its last element, and issue waits for
accumulator hazards and output credits (a place in the output FIFO for every result on its
way). Under the free output ``ready`` a result can wait for a credit, and a two-element job
holds X for a cycle, within a few cycles of reset, so short bounded runs see the input side
held and released in every pattern the sequencer allows.

Reach into the PE: the harness elaborates the ``Pe`` itself and reads the ports of its
submodules ``in_fifo`` (``level``, ``r_rdy``) and ``decode`` (``pop``, ``take``,
``job_valid``, ``job``, ``dropped``, ``kind``, ``p_color``), and the decoder's registers
``f_valid`` and ``p_valid`` by name. Renaming those breaks the harness with a ``KeyError``.

With ``inductive=True`` only the properties that hold as k-inductive invariants are kept
(link rules, occupancy, conservation, counters), for sby's ``prove`` mode.
"""

# (The linter line above: the harness elaborates its Pe itself, to reach its submodules, so
# Amaranth never marks the Pe object as used.)

from types import SimpleNamespace
from unittest import mock

from amaranth.asserts import AnyConst, AnySeq
from amaranth.hdl import (Assert, Assume, Const, Elaboratable, Fragment, Module, Mux, ResetSignal,
                          Signal)

from wafer_engine.rtl.params import PeParams
from wafer_engine.rtl.pe import Op, Target, pe as pe_module
from wafer_engine.rtl.pe.decode import Decoder
from wafer_engine.rtl.pe.job import Decoded
from wafer_engine.rtl.wavelet import Wavelet
from wafer_engine.tb.formal.harness import assigned_signals, event_counter

__all__ = ["SMALL", "MUTANTS", "DROP_KINDS", "PeProps"]

#: The PE under proof: two colors, four words of mem and acc, vectors of up to two elements,
#: two-entry FIFOs. Small enough for the solver, and every decode case (no task, error, zero
#: skip, each op, control commands, a full input FIFO, a stalled output) is reachable.
SMALL = PeParams(colors=2, mem_words=4, acc_words=4, max_len=2, in_depth=2, out_depth=2)

#: Drop kinds and the PE counter that counts each.
DROP_KINDS = {
    Decoded.SKIP: "zeros_skipped",
    Decoded.NO_TASK: "no_task",
    Decoded.ERROR: "errors",
}

#: Deliberate faults; each must make a proof fail, which shows the checks are not vacuous.
MUTANTS = {
    "bound": "false claim: no run has a job, a zero skip, a no-task drop and an error",
    "pop_blocked": "the input FIFO is read whenever it has a head, even while F cannot take "
                   "it (the wavelet is lost)",
    "keep_job": "stage X keeps a color-1 job the sequencer took (the job runs twice)",
    "count_offers": "wavelets_in counts every offer on the link, not only transfers",
    "miss_error": "errors misses the drops of color 1",
    "corrupt": "payload bit 0 of color-1 wavelets flips between the input FIFO and the decoder",
    "ignore_armed": "color 1's row counts as armed after reset (its stale op runs)",
}

#: Payload bits of word 1 of a task row: op (TaskEntry bits 64..66).
_OP_BITS = 3


class _KeepJobDecoder(Decoder):
    """Mutant decoder: X still holds a color-1 job after the sequencer takes it."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        with m.If(self.take & self.job_valid & (self.job.source == 1)):
            m.d.sync += self.job_valid.eq(1)
        return m


def _subfragment(fragment, name):
    """The subfragment of ``fragment`` named ``name``."""
    for subfragment, sub_name, _ in fragment.subfragments:
        if sub_name == name:
            return subfragment
    raise KeyError(name)


class PeProps(Elaboratable):
    """The PE under free traffic, backpressure and configuration, with assertions on its input
    side.

    Parameters:
        params: the PE's :class:`~wafer_engine.rtl.params.PeParams` (default :data:`SMALL`).
        inductive: keep only the k-inductive properties (for ``prove`` mode).
        cfg_any_time: let config writes happen while the PE is busy (task binding unchecked).
        allow_reset: let the solver reset the PE (and the checker) in any cycle.
        count_bits: width of the modular event counters and of ``N``; the bounded checks are
            exact for runs shorter than ``2 ** count_bits`` cycles.
        mutant: ``None`` or a key of :data:`MUTANTS`.
    """

    def __init__(self, params=SMALL, *, inductive=False, cfg_any_time=False,
                 allow_reset=True, count_bits=6,
                 mutant=None):
        if mutant is not None and mutant not in MUTANTS:
            raise ValueError(f"Mutant must be one of {', '.join(MUTANTS)}, not {mutant!r}")
        self.pe = pe_module.Pe(params)
        self.inductive = inductive
        self.cfg_any_time = cfg_any_time
        self.allow_reset = allow_reset
        self.count_bits = count_bits
        self.mutant = mutant

    def elaborate(self, platform):
        pe = self.pe
        m = Module()

        # Elaborate the PE here to reach its submodules; mutants add their statements to its
        # module before it becomes a fragment (the last assignment wins), or replace the
        # decoder class the PE instantiates, for this elaboration only.
        decoder_cls = _KeepJobDecoder if self.mutant == "keep_job" else Decoder
        with mock.patch.object(pe_module, "Decoder", decoder_cls):
            core_module = pe.elaborate(platform)
        in_fifo = core_module.submodules["in_fifo"]
        dec = core_module.submodules["decode"]
        self._pe_mutants(core_module, in_fifo, dec)
        core = Fragment.get(core_module, platform)
        internals = assigned_signals(_subfragment(core, "decode"))
        s = SimpleNamespace(m=m, in_fifo=in_fifo, dec=dec,
                            f_valid=internals["f_valid"], p_valid=internals["p_valid"])
        self._environment(s)
        self._link_rules(s)
        self._counters(s)
        self._conservation(s)
        if not self.inductive:
            self._no_duplication(s)
            self._tracking(s)
            if not self.cfg_any_time:
                self._task_binding(s)
        if self.mutant == "bound":
            m.d.comb += Assert(~((s.n_job != 0) & (s.n_drop[Decoded.SKIP] != 0)
                                 & (s.n_drop[Decoded.NO_TASK] != 0)
                                 & (s.n_drop[Decoded.ERROR] != 0)))

        top = Fragment.get(m, platform)
        top.add_subfragment(core, "pe")
        return top

    def _pe_mutants(self, core, in_fifo, dec):
        """Faults written into the PE's own module."""
        pe, cnt = self.pe, self.pe.counters
        if self.mutant == "pop_blocked":
            core.d.comb += in_fifo.r_en.eq(in_fifo.r_rdy)
        elif self.mutant == "count_offers":
            core.d.sync += cnt.wavelets_in.eq(cnt.wavelets_in + pe.i.valid)
        elif self.mutant == "miss_error":
            missed = Signal()
            core.d.sync += missed.eq(dec.dropped & (dec.kind == Decoded.ERROR)
                                     & (dec.p_color == 1))
            with core.If(missed):
                core.d.sync += cnt.errors.eq(cnt.errors)
        elif self.mutant == "ignore_armed":
            with core.If(Wavelet(in_fifo.r_data).color == 1):
                core.d.comb += dec.head.armed.eq(1)
        elif self.mutant == "corrupt":
            head = Wavelet(in_fifo.r_data)
            core.d.comb += dec.head.wavelet.eq(in_fifo.r_data ^ (head.color == 1))

    def _counter(self, m, name, inc):
        return event_counter(m, name, inc, self.count_bits)

    def _environment(self, s):
        """Free input link, output backpressure, peek and config; transfer strobes."""
        m, pe = s.m, self.pe
        if not self.allow_reset:
            m.d.comb += Assume(~ResetSignal())
        m.d.comb += [
            pe.i.valid.eq(AnySeq(1)),
            pe.i.wavelet.eq(AnySeq(Wavelet.as_shape().size)),
            pe.o.ready.eq(AnySeq(pe.params.colors)),
            pe.peek.target.eq(AnySeq(2)),
            pe.peek.addr.eq(AnySeq(16)),
            pe.cfg.valid.eq(AnySeq(1)),
            pe.cfg.target.eq(AnySeq(2)),
            pe.cfg.addr.eq(AnySeq(16)),
            pe.cfg.data.eq(AnySeq(64)),
        ]
        if not self.cfg_any_time:
            m.d.comb += Assume(~pe.cfg.valid | pe.idle)
        s.xin = Signal(name="xin")
        m.d.comb += s.xin.eq(pe.i.valid & pe.i.ready.bit_select(pe.i.wavelet.color, 1))
        # A job leaves the decoder when the sequencer takes X while X holds one.
        s.take = Signal(name="take_job")
        m.d.comb += s.take.eq(s.dec.take & s.dec.job_valid)

    def _link_rules(self, s):
        m, pe, p = s.m, self.pe, self.pe.params
        all_colors = (1 << p.colors) - 1
        m.d.comb += [
            Assert((pe.i.ready == 0) | (pe.i.ready == all_colors)),
            Assert((pe.i.ready == all_colors) == (s.in_fifo.level < p.in_depth)),
            Assert(~pe.o.valid | pe.o.ready.bit_select(pe.o.wavelet.color, 1)),
            Assert(s.in_fifo.level <= p.in_depth),
            Assert(~s.dec.pop | s.in_fifo.r_rdy),
        ]

    def _counters(self, s):
        """Events by the harness's own counting, and the PE's counters against them."""
        m, pe, dec, w = s.m, self.pe, s.dec, self.count_bits
        s.n_in = self._counter(m, "n_in", s.xin)
        s.n_job = self._counter(m, "n_job", s.take)
        s.n_drop = {kind: self._counter(m, f"n_{name}", dec.dropped & (dec.kind == kind))
                    for kind, name in DROP_KINDS.items()}
        # The PE counts a drop one cycle after it leaves P.
        s.late, s.late_kind = Signal(name="late_drop"), Signal(Decoded, name="late_kind")
        m.d.sync += [s.late.eq(dec.dropped), s.late_kind.eq(dec.kind)]
        counted = {}
        for kind, name in DROP_KINDS.items():
            counted[kind] = self._counter(m, f"counted_{name}", s.late & (s.late_kind == kind))
            m.d.comb += Assert(getattr(pe.counters, name)[:w] == counted[kind])
        m.d.comb += Assert(pe.counters.wavelets_in[:w] == s.n_in)
        seen = Signal(name="no_task_counted")
        with m.If(s.late & (s.late_kind == Decoded.NO_TASK)):
            m.d.sync += seen.eq(1)
        m.d.comb += [
            Assert(pe.no_task_seen == seen),
            Assert((pe.counters.no_task == 0) | pe.no_task_seen),
        ]

    def _conservation(self, s):
        """Every accepted wavelet is a job taken, a drop, or still on the input side."""
        m, dec, w = s.m, s.dec, self.count_bits
        in_flight = (s.in_fifo.level + s.f_valid + s.p_valid + dec.job_valid)
        resolved = s.n_job + sum(s.n_drop.values())
        m.d.comb += Assert((s.n_in - resolved)[:w] == in_flight[:w])
        # The same over the PE's own counters: the drops it has counted plus the one it will
        # count next.
        cnt = self.pe.counters
        counted = cnt.zeros_skipped + cnt.no_task + cnt.errors + s.late
        m.d.comb += Assert((cnt.wavelets_in - s.n_job - counted)[:w] == in_flight[:w])

    def _no_duplication(self, s):
        """Nothing leaves the input side more often than it entered (counters do not wrap in a
        bounded run)."""
        m, w = s.m, self.count_bits
        resolved = s.n_job + sum(s.n_drop.values())
        m.d.comb += Assert(resolved <= s.n_in)

    def _tracking(self, s):
        """The ``seq``-th wavelet resolved is the ``seq``-th accepted."""
        m, pe, dec, w = s.m, self.pe, s.dec, self.count_bits
        seq = AnyConst(w)
        link = pe.i.wavelet
        seen = Signal(name="track_seen")
        color = Signal(link.color.shape(), name="track_color")
        control = Signal(name="track_control")
        value = Signal(16, name="track_value")
        with m.If(s.xin & (s.n_in == seq)):
            m.d.sync += [seen.eq(1), color.eq(link.color), control.eq(link.control),
                         value.eq(link.payload.half.value)]
        m.d.comb += Assert(seen == (s.n_in > seq))

        resolved = s.n_job + sum(s.n_drop.values())
        job = dec.job
        job_is_control = job.drain | job.clear
        with m.If(s.take & (resolved == seq)):
            m.d.comb += [
                Assert(seen),
                Assert(job.source == color),
                Assert(job_is_control == control),
                Assert(control | (job.data[:16] == value)),
            ]
        with m.If(dec.dropped & ((resolved + s.take)[:w] == seq)):
            m.d.comb += [Assert(seen), Assert(dec.p_color == color)]

    def _task_binding(self, s):
        """Drops and jobs follow each color's task as the config writes set it."""
        m, pe, dec, p = s.m, self.pe, s.dec, self.pe.params
        cfg = pe.cfg
        armed = [Signal(name=f"shadow_armed_{c}") for c in range(p.colors)]
        op = [Signal(_OP_BITS, name=f"shadow_op_{c}") for c in range(p.colors)]
        row_write = cfg.valid & (cfg.target == Target.TASK) & (cfg.addr < 2 * p.colors)
        for c in range(p.colors):
            with m.If(row_write & (cfg.addr[1:] == c) & cfg.addr[0]):
                m.d.sync += [armed[c].eq(1), op[c].eq(cfg.data[:_OP_BITS])]

        def row(color):
            """(armed, op) of the shadow row of ``color`` (a Value below ``colors``)."""
            row_armed, row_op = Const(0), Const(Op.NONE.value, _OP_BITS)
            for c in range(p.colors):
                row_armed = Mux(color == c, armed[c], row_armed)
                row_op = Mux(color == c, op[c], row_op)
            return row_armed, row_op

        def none(color):
            row_armed, row_op = row(color)
            return ~row_armed | (row_op == Op.NONE.value)

        m.d.comb += Assert(~dec.dropped | ((dec.kind == Decoded.NO_TASK) == none(dec.p_color)))
        job = dec.job
        _, job_op = row(job.source)
        with m.If(s.take):
            m.d.comb += Assert(~none(job.source))
            with m.If(~(job.drain | job.clear)):
                m.d.comb += [
                    Assert(job.store == (job_op == Op.STORE.value)),
                    Assert(job.fmac == ((job_op == Op.AXPY.value) | (job_op == Op.MAC.value))),
                    Assert(job.reduce == (job_op == Op.REDUCE.value)),
                    Assert(job.grad == ((job_op == Op.GRAD.value)
                                        | (job_op == Op.GRAD_ACC.value))),
                    Assert(job.to_acc == (job_op == Op.GRAD_ACC.value)),
                ]
