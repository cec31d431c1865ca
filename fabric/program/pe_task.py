"""PE tasks as Python values: validation against the PE's parameters, memory footprints, and
packing into task table rows and configuration writes."""

from dataclasses import dataclass, fields, replace

from wafer_engine.rtl.params import PeParams
from wafer_engine.rtl.pe.ports import Target
from wafer_engine.rtl.pe.task import Op, TaskEntry, task_words

__all__ = ["Task", "PeProgram", "parse_op"]

_ADDR_MAX = 0xFFFF
_OPS = ", ".join(op.name for op in Op)


def parse_op(op, color):
    """``"MAC"``, ``"mac"``, ``Op.MAC`` or ``3`` -> ``Op.MAC``; ``ValueError`` otherwise."""
    if isinstance(op, Op):
        return op
    if isinstance(op, str) and op.upper() in Op.__members__:
        return Op[op.upper()]
    if isinstance(op, int) and not isinstance(op, bool) and op in {o.value for o in Op}:
        return Op(op)
    raise ValueError(f"Color {color} task op must be one of {_OPS}, not {op!r}")


def _check_int(value, lo, hi, what, color):
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ValueError(f"Color {color} task {what} must be an integer between {lo} and {hi}, "
                         f"not {value!r}")
    return value


def _check_flag(value, what, color):
    if not isinstance(value, bool) and value not in (0, 1):
        raise ValueError(f"Color {color} task {what} must be a bool, not {value!r}")
    return bool(value)


@dataclass(frozen=True)
class Task:
    """The task bound to one color (see docs/pe.md for each op's semantics).

    Fields as in :class:`wafer_engine.rtl.pe.task.TaskEntry`; ``op`` is a name (``"AXPY"``), an
    :class:`~wafer_engine.rtl.pe.task.Op` or its code. ``rows`` and ``cols`` declare the shape of the
    resident data, which fixes the task's memory footprint:

    ======  ==============================================  ===========================
    op      mem footprint (fp16 words)                      acc footprint (fp32 words)
    ======  ==============================================  ===========================
    STORE   [mem_a, mem_a + rows): index 0..rows-1          --
    AXPY    [mem_a, mem_a + rows*len): rows index values    [acc, acc + len)
    MAC     [mem_a, mem_a + cols*len): cols values of j     [acc, acc + rows*len)
    REDUCE  --                                              [acc, acc + len)
    GRAD    [mem_a, mem_a + cols*len), [mem_b, + rows*len)  --
    GRAD_   as GRAD                                         [acc, acc + slots)
    ACC
    ======  ==============================================  ===========================

    ``slots`` declares how many accumulators GRAD_ACC's wavelets address (their value
    field, 0..slots-1). For MAC, GRAD and GRAD_ACC, ``i`` ranges over ``rows`` and ``j`` over
    ``cols``, so ``cols <= 2**jbits`` and ``rows <= 2**(16 - jbits)``.
    """
    op: object = "NONE"
    len: int = 1
    mem_a: int = 0
    mem_b: int = 0
    acc: int = 0
    index_base: int = 0
    out_color: int = 0
    zero_skip: bool = False
    relu: bool = False
    sparse_out: bool = False
    jbits: int = 0
    rows: int = 1
    cols: int = 1
    slots: int = 1

    def validated(self, color, params):
        """This task with ``op`` parsed, or ``ValueError`` naming the bad value.

        ``params`` is a :class:`wafer_engine.rtl.params.PeParams`. Checks field ranges and the shape
        against ``jbits``; footprints are checked by :class:`PeProgram`.
        """
        op = parse_op(self.op, color)
        _check_int(self.len, 1, params.max_len, "len", color)
        for name in ("mem_a", "mem_b", "acc", "index_base"):
            _check_int(getattr(self, name), 0, _ADDR_MAX, name, color)
        _check_int(self.out_color, 0, params.colors - 1, "out_color", color)
        _check_int(self.jbits, 0, 15, "jbits", color)
        for name in ("rows", "cols", "slots"):
            _check_int(getattr(self, name), 1, _ADDR_MAX + 1, name, color)
        flags = {name: _check_flag(getattr(self, name), name, color)
                 for name in ("zero_skip", "relu", "sparse_out")}
        if op in (Op.MAC, Op.GRAD, Op.GRAD_ACC):
            if self.cols > 1 << self.jbits:
                raise ValueError(f"Color {color} task has {self.cols} columns but jbits "
                                 f"{self.jbits} indexes only {1 << self.jbits}")
            if self.rows > 1 << (16 - self.jbits):
                raise ValueError(f"Color {color} task has {self.rows} rows but jbits "
                                 f"{self.jbits} leaves room for only {1 << (16 - self.jbits)}")
        return replace(self, op=op, **flags)

    def footprints(self):
        """``[(target, lo, hi)]``: the half-open word ranges the task touches (op parsed)."""
        op, n = parse_op(self.op, "?"), self.len
        return {
            Op.NONE: [],
            Op.STORE: [(Target.MEM, self.mem_a, self.mem_a + self.rows)],
            Op.AXPY: [(Target.MEM, self.mem_a, self.mem_a + self.rows * n),
                      (Target.ACC, self.acc, self.acc + n)],
            Op.MAC: [(Target.MEM, self.mem_a, self.mem_a + self.cols * n),
                     (Target.ACC, self.acc, self.acc + self.rows * n)],
            Op.REDUCE: [(Target.ACC, self.acc, self.acc + n)],
            Op.GRAD: [(Target.MEM, self.mem_a, self.mem_a + self.cols * n),
                      (Target.MEM, self.mem_b, self.mem_b + self.rows * n)],
            Op.GRAD_ACC: [(Target.MEM, self.mem_a, self.mem_a + self.cols * n),
                          (Target.MEM, self.mem_b, self.mem_b + self.rows * n),
                          (Target.ACC, self.acc, self.acc + self.slots)],
        }[op]

    def entry(self):
        """The packed :class:`~wafer_engine.rtl.pe.task.TaskEntry` (an integer); fields must be in range."""
        values = {f.name: getattr(self, f.name) for f in fields(self)
                  if f.name not in ("rows", "cols", "slots")}
        values["op"] = parse_op(self.op, "?")
        values["zero_skip"], values["relu"], values["sparse_out"] = (
            int(values["zero_skip"]), int(values["relu"]), int(values["sparse_out"]))
        return TaskEntry.const(values).as_bits()

    def words(self):
        """The two 64-bit configuration words of the task's table row."""
        return task_words(self.entry())

    @classmethod
    def from_entry(cls, bits):
        """The task stored as ``bits`` (shape fields left at their defaults)."""
        view = TaskEntry.from_bits(bits)
        return cls(op=Op(view.op), **{name: int(getattr(view, name))
                                      for name, _ in TaskEntry.as_shape()
                                      if name != "op"})


def _union_size(ranges):
    """Words covered by a set of half-open ranges."""
    total, end = 0, None
    for lo, hi in sorted(ranges):
        if end is None or lo >= end:
            total += hi - lo
            end = hi
        elif hi > end:
            total += hi - end
            end = hi
    return total


class PeProgram:
    """A validated PE configuration: tasks by color plus initial mem and acc contents.

    Args:
        tasks: ``{color: Task}``.
        mem: ``{address: [fp16 bit patterns]}`` blocks to preload into ``mem``.
        acc: ``{address: [fp32 bit patterns]}`` blocks to preload into ``acc``.
        params: the PE's :class:`wafer_engine.rtl.params.PeParams` (default: the default PE).

    Raises ``ValueError`` naming the bad value: parameters out of range, a color out of range,
    a bad task field (see :meth:`Task.validated`), footprints that cannot fit together
    ("Memory too small for the configured tasks"), a footprint placed outside the memory, or an
    image that does not fit. Overlapping footprints are allowed: a STORE task may fill the
    block a MAC task reads, a REDUCE task may read the accumulators a MAC task fills.
    """

    def __init__(self, tasks=None, *, mem=None, acc=None, params=None):
        self.params = p = PeParams() if params is None else params
        tasks = {} if tasks is None else tasks
        if not isinstance(tasks, dict):
            raise ValueError(f"Tasks must be a dict of color to Task, not {tasks!r}")
        self.tasks = {}
        for color, task in tasks.items():
            if not isinstance(color, int) or isinstance(color, bool) \
                    or not 0 <= color < p.colors:
                raise ValueError(f"Task color must be an integer between 0 and "
                                 f"{p.colors - 1}, not {color!r}")
            if not isinstance(task, Task):
                raise ValueError(f"Color {color} task must be a Task, not {task!r}")
            self.tasks[color] = task.validated(color, p)
        size = {Target.MEM: p.mem_words, Target.ACC: p.acc_words}
        for target in (Target.MEM, Target.ACC):
            ranges = [(lo, hi) for t in self.tasks.values()
                      for tg, lo, hi in t.footprints() if tg == target]
            need = _union_size(ranges)
            if need > size[target]:
                raise ValueError(f"Memory too small for the configured tasks: "
                                 f"{target.name.lower()} needs {need} words, the PE has "
                                 f"{size[target]}")
        for color, task in sorted(self.tasks.items()):
            for target, lo, hi in task.footprints():
                if hi > size[target]:
                    raise ValueError(f"Color {color} task {target.name.lower()} footprint "
                                     f"{lo}..{hi - 1} is outside {target.name.lower()} "
                                     f"(0..{size[target] - 1})")
        self.mem = self._image(mem, Target.MEM, size[Target.MEM], 0xFFFF)
        self.acc = self._image(acc, Target.ACC, size[Target.ACC], 0xFFFFFFFF)

    @staticmethod
    def _image(blocks, target, words, mask):
        name = target.name.lower()
        image = {}
        for base, block in (blocks or {}).items():
            block = [int(v) for v in block]
            if not isinstance(base, int) or base < 0 or base + len(block) > words:
                raise ValueError(f"The {name} image block at {base!r} ({len(block)} words) "
                                 f"does not fit in {name} (0..{words - 1})")
            for offset, value in enumerate(block):
                if not 0 <= value <= mask:
                    raise ValueError(f"The {name} image word at {base + offset} must fit in "
                                     f"{mask.bit_length()} bits, not {value!r}")
                image[base + offset] = value
        return image

    def config_writes(self):
        """``[(Target, addr, data)]``: the configuration port writes that load this program."""
        writes = []
        for color, task in sorted(self.tasks.items()):
            for word, data in enumerate(task.words()):
                writes.append((Target.TASK, 2 * color + word, data))
        writes += [(Target.MEM, a, v) for a, v in sorted(self.mem.items())]
        writes += [(Target.ACC, a, v) for a, v in sorted(self.acc.items())]
        return writes
