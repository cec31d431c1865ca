"""The processing element: tasks bound to colors, triggered by arriving wavelets, over a local
fp16 memory and fp32 accumulators (see docs/pe.md)."""

from wafer_engine.rtl.pe.pe import OUTPUT_ROUND_TRIP, PIPELINE, Pe
from wafer_engine.rtl.pe.ports import (COUNTERS, CountersSignature, PeConfigSignature,
                                       PeekSignature, Target)
from wafer_engine.rtl.pe.task import (TASK_WORDS, Command, Op, TaskEntry, entry_from_words,
                                      task_words)

__all__ = [
    "Pe", "PIPELINE", "OUTPUT_ROUND_TRIP",
    "Op", "Command", "TaskEntry", "TASK_WORDS", "task_words", "entry_from_words",
    "Target", "PeConfigSignature", "PeekSignature", "CountersSignature", "COUNTERS",
]
