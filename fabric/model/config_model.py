"""Golden model of the configuration chain (:mod:`wafer_engine.rtl.config_chain`): a cycle-exact
model of a chain of nodes taking the records of
:mod:`wafer_engine.fabric.program.config_records`."""

from collections import deque

from wafer_engine.rtl.config_chain import ITEM_WORDS, ConfigDest

__all__ = ["ConfigNodeModel", "ConfigChainModel", "run_chain"]

class ConfigNodeModel:
    """One :class:`wafer_engine.rtl.config_chain.ConfigNode`, state for state."""

    def __init__(self):
        self.state = "HEADER"
        self.dest = ConfigDest.ROUTE
        self.addr = self.items = self.words = self.word = self.staging = 0
        self.queue = deque()
        self.write = None       # (dest, addr, data) strobed in the current cycle

    def output(self):
        """``(valid, word)`` offered to the next node this cycle."""
        return (True, self.queue[0]) if self.queue else (False, 0)

    def ready(self, word):
        """``i.ready`` this cycle, given the word on ``i.payload``."""
        if self.state == "HEADER" and (word & 0xFFFF) == 0:
            return True
        if self.state in ("LOCAL_TARGET", "LOCAL_DATA"):
            return True
        return len(self.queue) < 2

    def edge(self, valid, word, ready, popped):
        """Clock edge: ``valid``/``word``/``ready`` describe the input link this cycle,
        ``popped`` whether the next node took this node's output."""
        take = valid and ready
        self.write = None
        if popped:
            self.queue.popleft()
        if not take:
            return
        state = self.state
        if state == "HEADER":
            self.dest = ConfigDest((word >> 16) & 0x3)
            if word & 0xFFFF == 0:
                self.state = "LOCAL_TARGET"
            else:
                self.queue.append((word & ~0xFFFF) | ((word & 0xFFFF) - 1))
                self.state = "FORWARD_TARGET"
        elif state == "FORWARD_TARGET":
            self.queue.append(word)
            count = word >> 16
            self.words = count * ITEM_WORDS[self.dest]
            self.state = "FORWARD_DATA" if count else "HEADER"
        elif state == "FORWARD_DATA":
            self.queue.append(word)
            self.words -= 1
            if self.words == 0:
                self.state = "HEADER"
        elif state == "LOCAL_TARGET":
            self.addr, self.items, self.word = word & 0xFFFF, word >> 16, 0
            self.state = "LOCAL_DATA" if self.items else "HEADER"
        else:  # LOCAL_DATA
            if ITEM_WORDS[self.dest] == 2 and self.word == 0:
                self.staging, self.word = word, 1
            else:
                data = self.staging | word << 32 if ITEM_WORDS[self.dest] == 2 else word
                self.write = (self.dest, self.addr, data)
                self.addr = (self.addr + 1) & 0xFFFF
                self.items -= 1
                self.word = 0
                if self.items == 0:
                    self.state = "HEADER"


class ConfigChainModel:
    """A chain of ``length`` nodes; :meth:`step` advances all of them one cycle."""

    def __init__(self, length):
        if not isinstance(length, int) or length < 1:
            raise ValueError(f"Chain length must be a positive integer, not {length!r}")
        self.nodes = [ConfigNodeModel() for _ in range(length)]

    def step(self, valid, word, end_ready):
        """One cycle with ``(valid, word)`` entering the first node and ``end_ready`` at the
        last node's output. Returns ``(taken, out, writes)``: whether the first node took the
        word, the ``(valid, word)`` the last node offered, and per node the write it strobes
        in the next cycle (or ``None``)."""
        offers = [(valid, word)] + [n.output() for n in self.nodes]
        readies = [n.ready(offers[k][1]) for k, n in enumerate(self.nodes)] + [end_ready]
        for k, node in enumerate(self.nodes):
            node.edge(offers[k][0], offers[k][1], readies[k],
                      offers[k + 1][0] and readies[k + 1])
        return offers[0][0] and readies[0], offers[-1], [n.write for n in self.nodes]

    @property
    def busy(self):
        return any(n.queue or n.state != "HEADER" for n in self.nodes)


def run_chain(length, words):
    """Feed ``words`` back to back into a chain with an always-ready end.

    Returns ``(cycles, writes)``: cycles until every node is idle again (the last write
    strobe included), and per node the list of ``(dest, addr, data)`` writes in order.
    """
    chain = ConfigChainModel(length)
    writes = [[] for _ in range(length)]
    pending = deque(words)
    cycles = 0
    while pending or chain.busy:
        valid = bool(pending)
        taken, _, strobes = chain.step(valid, pending[0] if pending else 0, True)
        if taken:
            pending.popleft()
        for k, w in enumerate(strobes):
            if w is not None:
                writes[k].append(w)
        cycles += 1
    return cycles + 1, writes
