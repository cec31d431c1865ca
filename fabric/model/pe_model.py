"""Golden model of :class:`wafer_engine.rtl.pe.Pe`: bit-exact results and a cycle-exact timing model.

Values: each wavelet is executed as a whole, in arrival order, with :mod:`wafer_engine.fabric.model.fp_model`
(the RTL's issue stalls make its pipelined execution equal to that sequential semantics).
Timing: :class:`PeModel` mirrors the RTL's control registers (input FIFO, the decoder's
stages F, P and X, sequencer J with its GRAD group, the eleven pipeline stages, output FIFO) so
that, driven with the same stimulus,
it accepts and emits the same wavelets in the same cycles; the values it emits come from
the sequential execution done when a wavelet is decoded.
"""

from collections import deque
from typing import NamedTuple

import numpy as np

from wafer_engine.rtl.params import PeParams
from wafer_engine.rtl.pe.ports import COUNTERS, Target
from wafer_engine.rtl.pe.task import Command, Op, TaskEntry

from wafer_engine.fabric.model.fp_model import fp16_mul, fp32_add, fp32_relu, fp32_to_fp16
from wafer_engine.fabric.model.wavelet import Wavelet

__all__ = ["PeModel", "Decoded", "simulate_pe", "InOrderSender", "TIMING"]

_FIELDS = {name: (f.offset, (1 << f.width) - 1) for name, f in TaskEntry.as_shape()}
#: The PE's pipeline as this model times it: the cycle after issue (S0) at which each step of an
#: element happens (mem read data, multiplier in, acc read, adder in, acc write, output push).
#: Stated here, not read from the RTL, so that an RTL timing change shows up as a lock-step
#: mismatch (tests/test_pe_model.py also compares it with ``wafer_engine.rtl.pe.PIPELINE``).
TIMING = {"mem_data": 1, "mul_in": 2, "acc_read": 3, "add_in": 5, "acc_write": 9, "push": 11}
_STAGES = TIMING["push"]
#: Issue waits while an element in S1..S3 writes the accumulator it reads; one in S4 or S5
#: (the adder's latency ahead, or one more) has its sum forwarded from the adder's output or
#: the stage after it, later ones have written when the reader reads.
_HAZARD = TIMING["acc_write"] - TIMING["add_in"] - 1
#: Up to this many GRAD jobs of one color issue their elements round-robin (the adder latency).
_GROUP = TIMING["acc_write"] - TIMING["add_in"]


class Decoded:
    """What the decoder makes of a wavelet (names as in :class:`wafer_engine.rtl.pe.job.Decoded`)."""
    JOB = "job"
    SKIP = "skip"
    NO_TASK = "no_task"
    ERROR = "error"


class _Task(NamedTuple):
    """A task table row unpacked into integers (``op`` stays a code: 7 is possible)."""
    mem_a: int
    mem_b: int
    acc: int
    index_base: int
    op: int
    zero_skip: int
    relu: int
    sparse_out: int
    out_color: int
    jbits: int
    len: int

    @classmethod
    def unpack(cls, bits):
        return cls(**{name: (bits >> off) & mask for name, (off, mask) in _FIELDS.items()})


class _Record(NamedTuple):
    """What an issued element still does in the pipeline: the accumulator it writes at S9
    (or ``None``), the wavelet it pushes at S11 (or ``None``, also for a dropped zero), and
    whether it is an output element (REDUCE, drain, a GRAD job's last element), whose output
    credit is given back in S11 when its result is a dropped zero."""
    writes: object
    emit: object
    out: bool = False


class _Slot(NamedTuple):
    """One issue slot of a job: the accumulator it reads at S3 (``None``: no read, so never a
    hazard), its pipeline record (``None``: nothing enters the pipeline), and whether it is a
    multiply-accumulate issue."""
    reads: object
    record: object
    fmac: bool


_GAP = _Slot(None, None, False)


class _Job(NamedTuple):
    """A decoded wavelet in X or J: its issue slots, whether it is a GRAD job (GRAD or
    GRAD_ACC: those of one color form groups), the color it arrived on, and whether it is a
    GRAD_ACC job (its sum goes to acc, so it needs no output credit)."""
    slots: list
    grad: bool
    source: int
    to_acc: bool = False


class PeModel:
    """The PE, bit-exact and cycle-exact. Parameters as for :class:`wafer_engine.rtl.pe.Pe`.

    Use :meth:`configure` / :meth:`peek` for the cfg and peek ports, then either
    :meth:`process` (functional: run one wavelet to completion, no timing) or, once per clock
    cycle, :meth:`ready` followed by :meth:`step` (cycle-exact). Do not mix the two while a
    wavelet is in flight.

    State: ``mem`` (uint16 array), ``acc`` (uint32 array), ``counters`` (dict, names as the
    RTL's counter ports), ``no_task_seen``, ``reduce_k`` (per-color REDUCE counters).
    """

    def __init__(self, params=None):
        self.params = p = PeParams() if params is None else params
        self.entries = [0] * p.colors
        self._tasks = [_Task.unpack(0)] * p.colors
        self.reduce_k = [0] * p.colors
        self.mem = np.zeros(p.mem_words, dtype=np.uint16)
        self.acc = np.zeros(p.acc_words, dtype=np.uint32)
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.no_task_seen = False
        # Timing state, register for register as in the RTL.
        self.in_fifo = deque()
        self.f = None           # decoder stage F: a wavelet
        self.p = None           # decoder stage P: a wavelet
        self.x = None           # decoder stage X: a decoded _Job
        self.j = None           # job being issued (a GRAD group's first job)
        self.j_pos = 0
        self.dropped = None     # the counter of a drop that left P last cycle (counted now)
        self.group = []         # GRAD: the jobs of the group, issued round-robin
        self.slot = 0           # GRAD: slot of the round, 0.._GROUP-1
        self.round = 0          # GRAD: element of every job issued in this round
        self.pipe = [None] * _STAGES    # pipe[s - 1]: record in stage Ss
        self.out_fifo = deque()
        # Output credits: results in the output FIFO plus those reserved by issued elements.
        self.reserved = 0

    # -- ports ------------------------------------------------------------------------------

    def configure(self, target, addr, data):
        """A cfg write (applied at once; the RTL applies it at the next clock edge)."""
        p = self.params
        target = Target(target)
        if target == Target.TASK and addr < 2 * p.colors:
            color, word = addr >> 1, addr & 1
            keep = ~(((1 << 64) - 1) << (64 * word))
            entry = (self.entries[color] & keep) | ((data & ((1 << 64) - 1)) << (64 * word))
            self.entries[color] = entry & ((1 << TaskEntry.as_shape().size) - 1)
            self._tasks[color] = _Task.unpack(self.entries[color])
            self.reduce_k[color] = 0
        elif target == Target.MEM and addr < p.mem_words:
            self.mem[addr] = data & 0xFFFF
        elif target == Target.ACC and addr < p.acc_words:
            self.acc[addr] = data & 0xFFFFFFFF

    def peek(self, target, addr):
        """What the peek port returns for ``(target, addr)`` (0 outside the target)."""
        p = self.params
        target = Target(target)
        if target == Target.TASK and addr < 2 * p.colors:
            return (self.entries[addr >> 1] >> (64 * (addr & 1))) & ((1 << 64) - 1)
        if target == Target.MEM and addr < p.mem_words:
            return int(self.mem[addr])
        if target == Target.ACC and addr < p.acc_words:
            return int(self.acc[addr])
        if target == Target.STATE and addr < p.colors:
            return self.reduce_k[addr]
        return 0

    def ready(self):
        """The input link's ready mask this cycle: every color while the input FIFO has room."""
        return (1 << self.params.colors) - 1 if len(self.in_fifo) < self.params.in_depth else 0

    @property
    def busy(self):
        """Something is queued or in flight (the RTL's ``~idle``)."""
        return bool(self.in_fifo or self.f is not None or self.p is not None
                    or self.x is not None or self.j is not None or self.dropped is not None
                    or any(r is not None for r in self.pipe) or self.out_fifo)

    # -- functional -------------------------------------------------------------------------

    def decode(self, w):
        """Classify wavelet ``w`` without side effects: a :class:`Decoded` value. The order of
        the checks is the RTL decoder's: no task, then errors, then zero skip."""
        t = self._tasks[w.color]
        if t.op == Op.NONE.value:
            return Decoded.NO_TASK
        if not self._ok(w, t):
            return Decoded.ERROR
        if (not w.control and t.zero_skip and t.op in (Op.AXPY.value, Op.MAC.value)
                and w.value & 0x7FFF == 0):
            return Decoded.SKIP
        return Decoded.JOB

    def _geometry(self, w, t):
        """Resolved addresses, exactly as the RTL's decoder computes them (no wrapping)."""
        idx = w.index
        i, j = idx >> t.jbits, idx & ((1 << t.jbits) - 1)
        n = t.len & ((1 << self.params.max_len.bit_length()) - 1)
        row = idx if t.op == Op.AXPY.value else j
        return {
            "i": i, "j": j, "n": n,
            "mem_a": t.mem_a + row * n,
            "mem_b": t.mem_b + i * n,
            "acc": t.acc + (i * n if t.op == Op.MAC.value else
                            w.value if t.op == Op.GRAD_ACC.value and not w.control else 0),
        }

    def _ok(self, w, t):
        """The decoder's range, length, op, command and color checks."""
        p = self.params
        g = self._geometry(w, t)
        n = g["n"]
        len_ok = 1 <= t.len <= p.max_len
        color_ok = t.out_color < p.colors
        if w.control:
            cmd = w.payload & 0xF
            drain = cmd in (Command.DRAIN.value, Command.DRAIN_CLEAR.value)
            clear = cmd in (Command.CLEAR.value, Command.DRAIN_CLEAR.value)
            return (len_ok and (drain or clear) and t.acc + n <= p.acc_words
                    and (color_ok or not drain))
        op = t.op
        mem_a_ok = g["mem_a"] + n <= p.mem_words
        if op == Op.STORE.value:
            return t.mem_a + w.index < p.mem_words
        if op in (Op.AXPY.value, Op.MAC.value):
            return len_ok and mem_a_ok and g["acc"] + n <= p.acc_words
        if op == Op.REDUCE.value:
            return len_ok and g["acc"] + n <= p.acc_words and color_ok
        if op == Op.GRAD.value:
            return len_ok and mem_a_ok and g["mem_b"] + n <= p.mem_words and color_ok
        if op == Op.GRAD_ACC.value:
            return (len_ok and mem_a_ok and g["mem_b"] + n <= p.mem_words
                    and g["acc"] < p.acc_words)
        return False

    def _output(self, t, s, index, sparse):
        """The output stage: the wavelet for result ``s`` (fp32 bits), or ``None`` for a
        sparse zero."""
        if not sparse:
            return Wavelet(t.out_color, int(s))
        r = fp32_relu(s) if t.relu else s
        h = int(fp32_to_fp16(r))
        if h & 0x7FFF == 0:
            return None
        return Wavelet.half(t.out_color, h, index & 0xFFFF)

    def _count_drop(self, counter):
        self.counters[counter] += 1
        self.no_task_seen |= counter == "no_task"

    def _execute(self, w, defer=False):
        """Decode and run ``w``: updates state and the drop counters (with ``defer``, the
        drop's counter is only noted in ``dropped``, as the RTL counts it a cycle later);
        returns the job (a :class:`_Job`), or ``None`` if the wavelet was dropped."""
        t = self._tasks[w.color]
        kind = self.decode(w)
        if kind != Decoded.JOB:
            counter = {Decoded.SKIP: "zeros_skipped", Decoded.NO_TASK: "no_task",
                       Decoded.ERROR: "errors"}[kind]
            if defer:
                self.dropped = counter
            else:
                self._count_drop(counter)
            return None
        g = self._geometry(w, t)
        n = g["n"]
        if w.control:
            return self._control(w, t, n)
        op = Op(t.op)
        if op == Op.STORE:
            self.mem[t.mem_a + w.index] = w.value
            return _Job([_GAP], False, w.color)
        if op in (Op.AXPY, Op.MAC):
            a, m = g["acc"], g["mem_a"]
            product = fp16_mul(np.full(n, w.value, dtype=np.uint16), self.mem[m:m + n])
            self.acc[a:a + n] = fp32_add(product, self.acc[a:a + n])
            return _Job([_Slot(a + k, _Record(a + k, None), True) for k in range(n)], False,
                        w.color)
        if op == Op.REDUCE:
            k = self.reduce_k[w.color]
            s = fp32_add(np.uint32(w.payload), self.acc[t.acc + k])
            self.reduce_k[w.color] = 0 if k + 1 >= t.len else k + 1
            emit = self._output(t, s, t.index_base + k, t.sparse_out)
            return _Job([_Slot(t.acc + k, _Record(None, emit, True), False)], False, w.color)
        # GRAD: products in parallel, sums strictly in b order, starting from +0. GRAD_ACC
        # writes the sum to its acc slot instead of sending it.
        x = self.mem[g["mem_b"]:g["mem_b"] + n]
        products = fp16_mul(x, self.mem[g["mem_a"]:g["mem_a"] + n])
        s = np.uint32(0)
        for b in range(n):
            s = fp32_add(products[b], s)
        if op == Op.GRAD_ACC:
            self.acc[g["acc"]] = s
            last = _Record(g["acc"], None)
        else:
            last = _Record(None, self._output(t, s, 0, sparse=False), True)
        slots = [_Slot(None, last if b == n - 1 else _Record(None, None), True)
                 for b in range(n)]
        return _Job(slots, True, w.color, op == Op.GRAD_ACC)

    def _control(self, w, t, n):
        cmd = w.payload & 0xF
        drain = cmd in (Command.DRAIN.value, Command.DRAIN_CLEAR.value)
        clear = cmd in (Command.CLEAR.value, Command.DRAIN_CLEAR.value)
        a = t.acc
        values = self.acc[a:a + n].copy()
        slots = []
        for k in range(n):
            emit = self._output(t, values[k], t.index_base + k, t.sparse_out) if drain else None
            slots.append(_Slot(a + k if drain else None,
                               _Record(a + k if clear else None, emit, drain), False))
        if clear:
            self.acc[a:a + n] = 0
            self.reduce_k[w.color] = 0
        return _Job(slots, False, w.color)

    def process(self, w):
        """Functional: run wavelet ``w`` to completion; returns the wavelets it emits.

        Counts everything the RTL counts except ``busy_cycles``, ``idle_cycles``,
        ``wavelets_in`` and ``wavelets_out`` (timing and link events).
        """
        job = self._execute(w)
        slots = job.slots if job else []
        self.counters["fmac_issues"] += sum(s.fmac for s in slots)
        return [s.record.emit for s in slots if s.record is not None and s.record.emit]

    # -- cycle-exact ------------------------------------------------------------------------

    def _load(self, job):
        """J takes ``job`` (or becomes empty)."""
        self.j, self.j_pos = job, 0
        self.group = [job] if job is not None and job.grad else []
        self.slot = self.round = 0

    def _issue(self):
        """The sequencer's cycle: advances J's position (for a GRAD group its slot, round and
        members), counts the FMAC issue and takes output credits. Returns ``(record issued or
        None, whether X's job joined the GRAD group)``; sets ``self._done`` when J's last
        slot issues."""
        self._done = False
        j = self.j
        if j is None:
            return None, False
        # An output element (REDUCE, drain) issues with a credit; a GRAD job takes its credit
        # with its first element, and a group never waits once it has started.
        credit = self.reserved != self.params.out_depth
        if not j.grad:
            slot = j.slots[self.j_pos]
            if slot.reads is not None and any(
                    r is not None and r.writes == slot.reads for r in self.pipe[:_HAZARD]):
                return None, False
            needs_credit = slot.record is not None and slot.record.out
            if needs_credit and not credit:
                return None, False
            self.reserved += needs_credit
            self.counters["fmac_issues"] += slot.fmac
            self.j_pos += 1
            self._done = self.j_pos == len(j.slots)
            return slot.record, False
        # A GRAD group: slot k of round r issues element r of the group's job k.
        count, n, x = len(j.slots), len(self.group), self.x
        credit |= j.to_acc      # GRAD_ACC sends nothing (a group is of one color and op)
        if self.round == 0 and self.slot == 0 and not credit:
            return None, False
        last = self.round == count - 1
        join = (self.round == 0 and not last and self.slot == n and x is not None and x.grad
                and x.source == j.source and credit)
        if join:
            self.group.append(x)
            slot = x.slots[0]
        elif self.slot < n:
            slot = self.group[self.slot].slots[self.round]
        else:
            slot = None
        self._done = slot is not None and last and self.slot == n - 1
        self.reserved += slot is not None and self.round == 0 and not j.to_acc
        self.slot += 1
        if self.slot == _GROUP:
            self.slot, self.round = 0, self.round + 1
        if slot is None:
            return None, False
        self.counters["fmac_issues"] += slot.fmac
        return slot.record, join

    def step(self, offered=None, out_ready=0, cfg=None):
        """One clock cycle. ``offered``: the wavelet on the input link (or ``None``);
        ``out_ready``: the output link's ready mask; ``cfg``: ``(target, addr, data)`` or
        ``None``. Call :meth:`ready` first if the sender needs it. Returns the wavelet
        transferred on the output link this cycle, or ``None``.
        """
        c = self.counters
        ready = self.ready()
        busy = self.busy
        c["busy_cycles" if busy else "idle_cycles"] += 1
        out = self.out_fifo[0] if self.out_fifo else None
        if out is not None and not (out_ready >> out.color) & 1:
            out = None
        last = self.pipe[-1]
        push = last is not None and last.emit is not None
        if self.dropped is not None:
            self._count_drop(self.dropped)
            self.dropped = None
        # The pipeline never stalls: only issue waits (for hazards and output credits).
        issued, join = self._issue()
        j_load = self.j is None or self._done
        x_take = j_load or join
        # The decoder: P moves on when X is free (a job fills X, a drop leaves it empty),
        # F moves into a free P, the FIFO's head into a free F.
        new_x, p_moves = None, False
        if self.p is not None and (self.x is None or x_take):
            new_x = self._execute(self.p, defer=True)
            p_moves = True
        p_free = self.p is None or p_moves
        f_free = self.f is None or p_free
        # The clock edge.
        if push:
            self.out_fifo.append(last.emit)
        self.pipe = [issued] + self.pipe[:-1]
        if j_load:
            self._load(self.x)
        if x_take:
            self.x = None
        if new_x is not None:
            self.x = new_x
        if p_free:
            self.p = self.f
        if f_free:
            self.f = self.in_fifo.popleft() if self.in_fifo else None
        if last is not None and last.out and not push:
            self.reserved -= 1          # a dropped zero gives its credit back
        if out is not None:
            self.out_fifo.popleft()
            self.reserved -= 1
            c["wavelets_out"] += 1
        if offered is not None and (ready >> offered.color) & 1:
            self.in_fifo.append(offered)
            c["wavelets_in"] += 1
        if cfg is not None:
            self.configure(*cfg)
        return out


class InOrderSender:
    """The upstream side of the PE's input link: one queue, in order, with optional pauses.

    The PE's ready mask is all colors or none, so the arrival order is the queue order.
    """

    def __init__(self, wavelets=()):
        self.queue = deque(wavelets)
        self._offered = None

    @property
    def pending(self):
        return len(self.queue)

    def offer(self, paused=False):
        """The wavelet to drive this cycle, or ``None``."""
        self._offered = None if paused or not self.queue else self.queue[0]
        return self._offered

    def commit(self, ready_mask):
        """End of cycle: pop the offered wavelet if it transferred; returns it or ``None``."""
        w = self._offered
        if w is None or not (ready_mask >> w.color) & 1:
            return None
        self.queue.popleft()
        return w


def simulate_pe(model, wavelets, backpressure=None, max_cycles=10_000_000):
    """Run ``wavelets`` through ``model`` cycle by cycle until it is idle again.

    ``backpressure`` is a :class:`wafer_engine.fabric.model.traffic.Backpressure` with ``ports=2``: port 0 pauses
    the input, port 1 gives the output ready mask; ``None`` means back-to-back input and an
    always-ready output. Returns ``(cycles, emitted)`` with ``emitted`` a list of
    ``(cycle, Wavelet)``.
    """
    sender = InOrderSender(wavelets)
    all_ready = (1 << model.params.colors) - 1
    emitted, cycle = [], 0
    while sender.pending or model.busy:
        if cycle >= max_cycles:
            raise RuntimeError(f"PE did not finish within {max_cycles} cycles")
        ready = model.ready()
        paused = backpressure.pause(cycle, 0) if backpressure else False
        out_ready = backpressure.ready(cycle, 1) if backpressure else all_ready
        out = model.step(sender.offer(paused), out_ready)
        sender.commit(ready)
        if out is not None:
            emitted.append((cycle, out))
        cycle += 1
    return cycle, emitted
