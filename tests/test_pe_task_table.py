"""The PE's task table (distributed RAM) across a reset, in amaranth.sim: reset disarms every
row (op NONE, word 1 peeks as 0) without clearing it; writing word 1 arms the row again."""

from amaranth.hdl import ClockDomain, Module
from amaranth.sim import Simulator

from wafer_engine.rtl.params import PeParams
from wafer_engine.rtl.pe import Pe
from wafer_engine.rtl.pe.ports import Target
from wafer_engine.rtl.pe.task import Op, TaskEntry, task_words
from wafer_engine.rtl.wavelet import Wavelet

PARAMS = PeParams(colors=2, mem_words=16, acc_words=8, max_len=4, in_depth=2, out_depth=2)
COLOR = 1
MEM_A = 5
WORDS = task_words(TaskEntry.const({"op": Op.STORE, "mem_a": MEM_A, "len": 1}).as_bits())


def run_reset_scenario(pe):
    """Configure a STORE row, reset, store through it, re-arm it, store again; returns what
    was seen: peeks of the row's words, the no_task counter and the stored mem words."""
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

        async def peek(target, addr):
            ctx.set(pe.peek.target, target)
            ctx.set(pe.peek.addr, addr)
            await ctx.tick()
            return ctx.get(pe.peek.data)

        async def store(value, index):
            ctx.set(pe.i.wavelet, Wavelet.const(
                {"payload": {"half": {"value": value, "index": index}}, "color": COLOR}))
            await pulse(pe.i.valid)
            for _ in range(20):
                await ctx.tick()

        ctx.set(pe.o.ready, (1 << PARAMS.colors) - 1)
        for word, data in enumerate(WORDS):
            await configure(2 * COLOR + word, data)
        seen["armed"] = [await peek(Target.TASK, 2 * COLOR + w) for w in (0, 1)]
        await pulse(cd.rst)
        seen["after_reset"] = [await peek(Target.TASK, 2 * COLOR + w) for w in (0, 1)]
        await store(0x3C00, 0)
        seen["no_task"] = ctx.get(pe.counters.no_task)
        await configure(2 * COLOR + 1, WORDS[1])
        await store(0x4000, 1)
        seen["no_task_after"] = ctx.get(pe.counters.no_task)
        seen["mem"] = [await peek(Target.MEM, MEM_A + k) for k in (0, 1)]

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return seen


def test_reset_disarms_rows_and_word_1_rearms():
    seen = run_reset_scenario(Pe(PARAMS))
    assert seen["armed"] == WORDS
    # Word 0 keeps what was written (the table is a memory); word 1 reads as op NONE.
    assert seen["after_reset"] == [WORDS[0], 0]
    assert seen["no_task"] == 1
    assert seen["no_task_after"] == 1
    # The store on the disarmed row wrote nothing (mem starts at 0 in simulation).
    assert seen["mem"] == [0, 0x4000]
