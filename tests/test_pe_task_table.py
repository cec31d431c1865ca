"""The PE's task table (distributed RAM) across a reset, in amaranth.sim: reset disarms every
row (op NONE, word 1 peeks as 0) without clearing it; writing word 1 arms the row again."""

from wafer_engine.rtl.params import PeParams
from wafer_engine.rtl.pe import Pe
from wafer_engine.rtl.pe.ports import Target
from wafer_engine.rtl.pe.task import Op, TaskEntry, task_words
from wafer_engine.rtl.wavelet import Wavelet

from pe_port_bench import run_pe_scenario

PARAMS = PeParams(colors=2, mem_words=16, acc_words=8, max_len=4, in_depth=2, out_depth=2)
COLOR = 1
MEM_A = 5
WORDS = task_words(TaskEntry.const({"op": Op.STORE, "mem_a": MEM_A, "len": 1}).as_bits())


async def reset_scenario(ports, seen):
    """Configure a STORE row, reset, store through it, re-arm it, store again; ``seen`` gets
    the peeks of the row's words, the no_task counter and the stored mem words."""
    async def row():
        return [await ports.peek(Target.TASK, 2 * COLOR + w) for w in (0, 1)]

    async def store(value, index):
        await ports.send(Wavelet.const(
            {"payload": {"half": {"value": value, "index": index}}, "color": COLOR}), settle=20)

    await ports.configure_row(COLOR, WORDS)
    seen["armed"] = await row()
    await ports.reset()
    seen["after_reset"] = await row()
    await store(0x3C00, 0)
    seen["no_task"] = ports.ctx.get(ports.pe.counters.no_task)
    await ports.configure_row(COLOR, WORDS, only_word=1)
    await store(0x4000, 1)
    seen["no_task_after"] = ports.ctx.get(ports.pe.counters.no_task)
    seen["mem"] = [await ports.peek(Target.MEM, MEM_A + k) for k in (0, 1)]


def test_reset_disarms_rows_and_word_1_rearms():
    seen = run_pe_scenario(Pe(PARAMS), reset_scenario)
    assert seen["armed"] == WORDS
    # Word 0 keeps what was written (the table is a memory); word 1 reads as op NONE.
    assert seen["after_reset"] == [WORDS[0], 0]
    assert seen["no_task"] == 1
    assert seen["no_task_after"] == 1
    # The store on the disarmed row wrote nothing (mem starts at 0 in simulation).
    assert seen["mem"] == [0, 0x4000]
