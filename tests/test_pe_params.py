"""Bad PE parameters, tasks and programs are rejected with messages that name the bad value."""

import re
from dataclasses import asdict

import pytest

from wafer_engine.fabric.model.pe_model import PeModel
from wafer_engine.fabric.program.pe_task import PeProgram, Task
from wafer_engine.rtl.params import PeParams


def exact(message):
    return "^" + re.escape(message) + "$"


PARAMETERS = [
    ("colors", [0, 25, -1, "4", 2.0, True], "Color count must be an integer between 1 and 24"),
    ("mem_words", [0, 65537, -4, "4096", None], "Memory size (words) must be an integer "
                                                "between 1 and 65536"),
    ("acc_words", [0, 65537, 1.5], "Accumulator count must be an integer between 1 and 65536"),
    ("max_len", [0, 65536, False], "Maximum vector length must be an integer between 1 and "
                                   "65535"),
    ("in_depth", [0, 65, "2"], "Input FIFO depth must be an integer between 1 and 64"),
    ("out_depth", [0, 65, None], "Output FIFO depth must be an integer between 1 and 64"),
]
CASES = [(name, value, text) for name, values, text in PARAMETERS for value in values]


@pytest.mark.parametrize("name,value,text", CASES,
                         ids=[f"{n}={v!r}" for n, v, _ in CASES])
def test_parameter_out_of_range(name, value, text):
    message = exact(f"{text}, not {value!r}")
    with pytest.raises(ValueError, match=message):
        PeParams(**{name: value})
    with pytest.raises(ValueError, match=message):
        PeParams().replace(**{name: value})


def test_limits_are_accepted():
    for kwargs in (dict(colors=1, mem_words=1, acc_words=1, max_len=1, in_depth=1,
                        out_depth=1),
                   dict(colors=24, mem_words=65536, acc_words=65536, max_len=65535,
                        in_depth=64, out_depth=64)):
        assert asdict(PeParams(**kwargs)) == kwargs
        PeModel(PeParams(**kwargs))


def program(task, color=0, **params):
    return PeProgram({color: task}, params=PeParams(**params))


@pytest.mark.parametrize("op", ["FOO", 7, -1, None, 2.0, True])
def test_unknown_op(op):
    with pytest.raises(ValueError, match=exact(f"Color 0 task op must be one of NONE, STORE, "
                                               f"AXPY, MAC, REDUCE, GRAD, GRAD_ACC, not {op!r}")):
        program(Task(op))


def test_op_names_and_codes():
    assert program(Task("mac")).tasks[0].op.name == "MAC"
    assert program(Task(4)).tasks[0].op.name == "REDUCE"


@pytest.mark.parametrize("length", [0, 65, -1, "8"])
def test_vector_length(length):
    with pytest.raises(ValueError, match=exact(f"Color 2 task len must be an integer between "
                                               f"1 and 64, not {length!r}")):
        program(Task("AXPY", len=length), color=2)


def test_vector_length_follows_max_len():
    program(Task("AXPY", len=200), max_len=200)
    with pytest.raises(ValueError, match=r"^Color 0 task len must be an integer between 1 and "
                                         r"16, not 17$"):
        program(Task("AXPY", len=17), max_len=16)


@pytest.mark.parametrize("field", ["mem_a", "mem_b", "acc", "index_base"])
@pytest.mark.parametrize("value", [-1, 65536])
def test_address_fields(field, value):
    with pytest.raises(ValueError, match=exact(f"Color 0 task {field} must be an integer "
                                               f"between 0 and 65535, not {value}")):
        program(Task("STORE", **{field: value}))


@pytest.mark.parametrize("colors,out_color", [(4, 4), (1, 1), (24, 24), (4, -1)])
def test_out_color(colors, out_color):
    with pytest.raises(ValueError, match=exact(f"Color 0 task out_color must be an integer "
                                               f"between 0 and {colors - 1}, not {out_color}")):
        program(Task("REDUCE", out_color=out_color), colors=colors)


def test_jbits_and_shape():
    with pytest.raises(ValueError, match=r"^Color 0 task jbits must be an integer between 0 "
                                         r"and 15, not 16$"):
        program(Task("MAC", jbits=16))
    with pytest.raises(ValueError, match=r"^Color 0 task rows must be an integer between 1 "
                                         r"and 65536, not 0$"):
        program(Task("MAC", rows=0))
    with pytest.raises(ValueError, match=r"^Color 1 task has 9 columns but jbits 3 indexes "
                                         r"only 8$"):
        program(Task("MAC", jbits=3, cols=9), color=1)
    with pytest.raises(ValueError, match=r"^Color 0 task has 5 rows but jbits 14 leaves room "
                                         r"for only 4$"):
        program(Task("GRAD", jbits=14, rows=5))


@pytest.mark.parametrize("flag", ["zero_skip", "relu", "sparse_out"])
def test_flags(flag):
    with pytest.raises(ValueError, match=exact(f"Color 0 task {flag} must be a bool, "
                                               f"not 'yes'")):
        program(Task("AXPY", **{flag: "yes"}))


def test_task_color_and_type():
    with pytest.raises(ValueError, match=r"^Task color must be an integer between 0 and 3, "
                                         r"not 4$"):
        PeProgram({4: Task("STORE")})
    with pytest.raises(ValueError, match=r"^Task color must be an integer between 0 and 3, "
                                         r"not '1'$"):
        PeProgram({"1": Task("STORE")})
    with pytest.raises(ValueError, match=r"^Color 1 task must be a Task, not 'MAC'$"):
        PeProgram({1: "MAC"})
    with pytest.raises(ValueError, match=r"^Tasks must be a dict of color to Task, not "
                                         r"\[1, 2\]$"):
        PeProgram([1, 2])


def test_memory_too_small():
    # Two 64 x 40 weight blocks need 5120 words; whatever their placement, 4096 cannot hold
    # them.
    tasks = {0: Task("AXPY", len=40, mem_a=0, acc=0, rows=64),
             1: Task("AXPY", len=40, mem_a=2560, acc=40, rows=64)}
    with pytest.raises(ValueError, match=r"^Memory too small for the configured tasks: mem "
                                         r"needs 5120 words, the PE has 4096$"):
        PeProgram(tasks)
    # Accumulators: a MAC with 32 rows of 64.
    with pytest.raises(ValueError, match=r"^Memory too small for the configured tasks: acc "
                                         r"needs 2048 words, the PE has 1024$"):
        PeProgram({0: Task("MAC", len=64, rows=32, jbits=8)})
    # Shared blocks count once: a STORE filling what a MAC reads, a REDUCE over its acc.
    PeProgram({0: Task("STORE", mem_a=0, rows=4096),
               1: Task("MAC", len=64, mem_a=0, rows=16, cols=64, jbits=6),
               2: Task("REDUCE", len=64, acc=0)})


def test_footprint_outside_memory():
    with pytest.raises(ValueError, match=r"^Color 3 task mem footprint 4000..4127 is outside "
                                         r"mem \(0..4095\)$"):
        program(Task("AXPY", len=8, mem_a=4000, rows=16), color=3)
    with pytest.raises(ValueError, match=r"^Color 0 task acc footprint 1020..1027 is outside "
                                         r"acc \(0..1023\)$"):
        program(Task("REDUCE", len=8, acc=1020))
    with pytest.raises(ValueError, match=r"^Color 0 task mem footprint 60..67 is outside mem "
                                         r"\(0..63\)$"):
        program(Task("GRAD", len=4, mem_a=0, mem_b=60, rows=2), mem_words=64)
    with pytest.raises(ValueError, match=r"^Color 0 task acc footprint 1000..1031 is outside "
                                         r"acc \(0..1023\)$"):
        program(Task("GRAD_ACC", len=4, mem_b=8, acc=1000, slots=32))


def test_memory_images():
    with pytest.raises(ValueError, match=r"^The mem image block at 4094 \(3 words\) does not "
                                         r"fit in mem \(0..4095\)$"):
        PeProgram(mem={4094: [1, 2, 3]})
    with pytest.raises(ValueError, match=r"^The acc image block at -1 \(1 words\) does not fit "
                                         r"in acc \(0..1023\)$"):
        PeProgram(acc={-1: [0]})
    with pytest.raises(ValueError, match=r"^The mem image word at 5 must fit in 16 bits, not "
                                         r"65536$"):
        PeProgram(mem={4: [0, 65536]})
