"""The PE's task table: one :class:`TaskEntry` per color, and the codes it holds."""

from amaranth.lib import data, enum

from wafer_engine.rtl.wavelet import COLOR_BITS

__all__ = ["Op", "Command", "TaskEntry", "TASK_WORDS", "task_words", "entry_from_words"]


class Op(enum.Enum, shape=3):
    """What a data wavelet on a task's color does (code 7 is undefined)."""
    NONE = 0    #: no task: wavelets on this color are counted in ``no_task`` and dropped
    STORE = 1   #: mem[mem_a + idx] = value
    AXPY = 2    #: acc[acc + k] += value * mem[mem_a + idx*len + k], k < len
    MAC = 3     #: acc[acc + i*len + b] += value * mem[mem_a + j*len + b], b < len
    REDUCE = 4  #: out(payload + acc[acc + k]), k = per-color counter, wraps at len
    GRAD = 5    #: out(sum over b < len of mem[mem_b + i*len + b] * mem[mem_a + j*len + b])
    GRAD_ACC = 6    #: acc[acc + value] = GRAD's sum (the wavelet's value field is a slot)


class Command(enum.Enum, shape=4):
    """Commands of control wavelets (``payload & 0xF``); other values count as errors."""
    DRAIN = 1           #: out(acc[acc + k]) for k < len
    CLEAR = 2           #: acc[acc + k] = +0 for k < len; REDUCE counter = 0
    DRAIN_CLEAR = 3     #: both, in one pass


class TaskEntry(data.Struct):
    """One row of the task table (95 bits), written as two 64-bit configuration words.

    Word 0 (bits 0..63) holds the four 16-bit addresses, word 1 (bits 64..94) the control
    fields, so writing word 1 is what arms a task (its ``op``). Bit positions:

    ===========  =======  =====================================================
    field        bits     meaning
    ===========  =======  =====================================================
    mem_a        0..15    base of the resident block in ``mem`` (fp16 words)
    mem_b        16..31   second block in ``mem`` (GRAD's activations)
    acc          32..47   base of the accumulators in ``acc`` (fp32 words)
    index_base   48..63   index of the first output of a sparse drain or reduce
    op           64..66   :class:`Op`
    zero_skip    67       AXPY/MAC: a +0/-0 value issues nothing
    relu         68       sparse output: ReLU before the fp16 conversion
    sparse_out   69       outputs are (fp16, index) and zeros are dropped; else fp32 data
    out_color    70..74   color of every output wavelet
    jbits        75..78   MAC/GRAD: index = i << jbits | j
    len          79..94   vector length, 1..max_len
    ===========  =======  =====================================================
    """
    mem_a: 16
    mem_b: 16
    acc: 16
    index_base: 16
    op: Op
    zero_skip: 1
    relu: 1
    sparse_out: 1
    out_color: COLOR_BITS
    jbits: 4
    len: 16


#: Configuration words per task table row.
TASK_WORDS = 2


def task_words(bits):
    """Split a packed :class:`TaskEntry` (an integer) into its two 64-bit configuration words."""
    return [bits & ((1 << 64) - 1), bits >> 64]


def entry_from_words(words):
    """The packed :class:`TaskEntry` integer held by configuration words ``[word0, word1]``."""
    size = TaskEntry.as_shape().size
    return (words[0] | words[1] << 64) & ((1 << size) - 1)
