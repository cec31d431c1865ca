"""The PE's REDUCE counters (a distributed RAM with a written-since bit per color) across a
reset and a task rewrite, in amaranth.sim: reset and a configuration write of the color's row
bring the counter back to 0, although the RAM itself keeps the old count."""

from wafer_engine.rtl.params import PeParams
from wafer_engine.rtl.pe import Pe
from wafer_engine.rtl.pe.ports import Target
from wafer_engine.rtl.pe.task import Op, TaskEntry, task_words
from wafer_engine.rtl.wavelet import Wavelet

from pe_port_bench import run_pe_scenario

PARAMS = PeParams(colors=2, mem_words=16, acc_words=8, max_len=4, in_depth=2, out_depth=2)
COLOR = 1
WORDS = task_words(TaskEntry.const({"op": Op.REDUCE, "len": 4, "out_color": 0}).as_bits())
ONE = 0x3F800000    # fp32 1.0


async def counter_scenario(ports, seen):
    """Count REDUCE wavelets on COLOR, reset, re-arm, count, rewrite word 0, count; ``seen``
    gets the peeks of both colors' counters after each step."""
    async def counters():
        return [await ports.peek(Target.STATE, color) for color in range(PARAMS.colors)]

    async def reduce(count):
        for _ in range(count):
            await ports.send(Wavelet.const({"payload": {"data": ONE}, "color": COLOR}))

    await ports.configure_row(COLOR, WORDS)
    await reduce(3)
    seen["counted"] = await counters()
    await ports.reset()
    seen["after_reset"] = await counters()
    await ports.configure_row(COLOR, WORDS, only_word=1)
    await reduce(2)
    seen["rearmed"] = await counters()
    await ports.configure_row(COLOR, WORDS, only_word=0)
    seen["rewritten"] = await counters()
    await reduce(1)
    seen["restarted"] = await counters()
    seen["outputs"] = ports.ctx.get(ports.pe.counters.wavelets_out)


def test_reduce_counter_restarts_after_reset_and_rewrite():
    seen = run_pe_scenario(Pe(PARAMS), counter_scenario)
    assert seen["counted"] == [0, 3]
    assert seen["after_reset"] == [0, 0]
    # Counting starts from 0 after the reset, not from the count the RAM still holds.
    assert seen["rearmed"] == [0, 2]
    # Any configuration write of the row (word 0 here) restarts the counter.
    assert seen["rewritten"] == [0, 0]
    assert seen["restarted"] == [0, 1]
    # Counters since the reset: the three REDUCE results after it.
    assert seen["outputs"] == 3
