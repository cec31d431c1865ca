"""A row of configuration-chain nodes, the unit the chain's testbench runs on."""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from wafer_engine.rtl.config_chain import WORD_BITS, ConfigNode, ConfigWriteSignature

__all__ = ["ConfigChain"]


class ConfigChain(wiring.Component):
    """``length`` :class:`ConfigNode` in series; ``writes[k]`` is node ``k``'s write port."""

    def __init__(self, length):
        self._length = length
        super().__init__({
            "i": In(stream.Signature(WORD_BITS)),
            "o": Out(stream.Signature(WORD_BITS)),
            "writes": Out(ConfigWriteSignature()).array(length),
        })

    def elaborate(self, platform):
        m = Module()
        upstream = wiring.flipped(self.i)
        for k in range(self._length):
            node = m.submodules[f"node{k}"] = ConfigNode()
            wiring.connect(m, upstream, node.i)
            wiring.connect(m, wiring.flipped(self.writes[k]), node.write)
            upstream = node.o
        wiring.connect(m, upstream, wiring.flipped(self.o))
        return m
