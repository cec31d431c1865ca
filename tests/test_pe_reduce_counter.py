"""The PE's REDUCE counters (a distributed RAM with a written-since bit per color) across a
reset and a task rewrite, in amaranth.sim: reset and a configuration write of the color's row
bring the counter back to 0, although the RAM itself keeps the old count."""

from amaranth.hdl import ClockDomain, Module
from amaranth.sim import Simulator

from wafer_engine.rtl.params import PeParams
from wafer_engine.rtl.pe import Pe
from wafer_engine.rtl.pe.ports import Target
from wafer_engine.rtl.pe.task import Op, TaskEntry, task_words
from wafer_engine.rtl.wavelet import Wavelet

PARAMS = PeParams(colors=2, mem_words=16, acc_words=8, max_len=4, in_depth=2, out_depth=2)
COLOR = 1
WORDS = task_words(TaskEntry.const({"op": Op.REDUCE, "len": 4, "out_color": 0}).as_bits())
ONE = 0x3F800000    # fp32 1.0


def run_counter_scenario(pe):
    """Count REDUCE wavelets on COLOR, reset, re-arm, count, rewrite word 0, count; returns the
    peeks of both colors' counters after each step."""
    m = Module()
    m.domains.sync = cd = ClockDomain()
    m.submodules.pe = pe
    seen = {}

    async def bench(ctx):
        async def pulse(signal):
            ctx.set(signal, 1)
            await ctx.tick()
            ctx.set(signal, 0)

        async def configure(addr, data):
            ctx.set(pe.cfg.target, Target.TASK)
            ctx.set(pe.cfg.addr, addr)
            ctx.set(pe.cfg.data, data)
            await pulse(pe.cfg.valid)

        async def counters():
            values = []
            for color in range(PARAMS.colors):
                ctx.set(pe.peek.target, Target.STATE)
                ctx.set(pe.peek.addr, color)
                await ctx.tick()
                values.append(ctx.get(pe.peek.data))
            return values

        async def reduce(count):
            for _ in range(count):
                ctx.set(pe.i.wavelet, Wavelet.const({"payload": {"data": ONE}, "color": COLOR}))
                await pulse(pe.i.valid)
                for _ in range(25):
                    await ctx.tick()

        ctx.set(pe.o.ready, (1 << PARAMS.colors) - 1)
        for word, data in enumerate(WORDS):
            await configure(2 * COLOR + word, data)
        await reduce(3)
        seen["counted"] = await counters()
        await pulse(cd.rst)
        seen["after_reset"] = await counters()
        await configure(2 * COLOR + 1, WORDS[1])
        await reduce(2)
        seen["rearmed"] = await counters()
        await configure(2 * COLOR, WORDS[0])
        seen["rewritten"] = await counters()
        await reduce(1)
        seen["restarted"] = await counters()
        seen["outputs"] = ctx.get(pe.counters.wavelets_out)

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return seen


def test_reduce_counter_restarts_after_reset_and_rewrite():
    seen = run_counter_scenario(Pe(PARAMS))
    assert seen["counted"] == [0, 3]
    assert seen["after_reset"] == [0, 0]
    # Counting starts from 0 after the reset, not from the count the RAM still holds.
    assert seen["rearmed"] == [0, 2]
    # Any configuration write of the row (word 0 here) restarts the counter.
    assert seen["rewritten"] == [0, 0]
    assert seen["restarted"] == [0, 1]
    # Counters since the reset: the three REDUCE results after it.
    assert seen["outputs"] == 3
