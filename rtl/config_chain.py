"""The configuration chain: 32-bit words passed tile to tile, each tile taking its own records.

A record is a header word, an address word and ``count`` items. The header's ``hops`` says how
many tiles the record passes before the one it is for: a tile that sees ``hops == 0`` consumes
the record, any other forwards it with ``hops - 1``. No tile needs to know its own position, so
every tile of an array is the same module, and no wire spans more than one tile.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

__all__ = ["ConfigDest", "ITEM_WORDS", "ConfigHeader", "ConfigTarget", "ConfigWriteSignature",
           "ConfigNode", "WORD_BITS"]

#: Width of a chain word in bits.
WORD_BITS = 32


class ConfigDest(enum.Enum, shape=2):
    """What a record writes in the tile that consumes it."""
    ROUTE = 0   #: router route table row ``addr`` = color (a RouteEntry, 42 bits)
    TASK = 1    #: PE task table word ``addr`` (64 bits)
    MEM = 2     #: PE fp16 memory word ``addr`` (16 bits)
    ACC = 3     #: PE fp32 accumulator ``addr`` (32 bits)


#: Chain words per item, by destination (items are sent low word first).
ITEM_WORDS = {ConfigDest.ROUTE: 2, ConfigDest.TASK: 2, ConfigDest.MEM: 1, ConfigDest.ACC: 1}


class ConfigHeader(data.Struct):
    """First word of a record."""
    hops: 16        #: tiles to pass before the destination tile, 0..65535
    dest: ConfigDest
    reserved: 14


class ConfigTarget(data.Struct):
    """Second word of a record: items go to ``addr``, ``addr + 1``, ... (``count`` of them)."""
    addr: 16
    count: 16       #: 0..65535 items


class ConfigWriteSignature(wiring.Signature):
    """One write for the local tile, seen from the chain node: a one-cycle strobe."""

    def __init__(self):
        super().__init__({
            "valid": Out(1),
            "dest": Out(ConfigDest),
            "addr": Out(16),
            "data": Out(64),
        })


class ConfigNode(wiring.Component):
    """One tile's stage of the configuration chain.

    Forwarded words pass through a two-word FIFO: 1 cycle per tile, one word per cycle, and
    ``i.ready`` depends only on this node's state, so ready never ripples along the chain.
    Words of a record for this tile are consumed at one per cycle and become ``write`` strobes,
    one per item, in the cycle after the item's last word arrived.

    Attributes:
        i: In(stream.Signature(32)) -- words from the previous tile (or the array's edge).
        o: Out(stream.Signature(32)) -- words for the next tile.
        write: Out(ConfigWriteSignature()) -- writes for this tile.
    """

    i: In(stream.Signature(WORD_BITS))
    o: Out(stream.Signature(WORD_BITS))
    write: Out(ConfigWriteSignature())

    def elaborate(self, platform):
        m = Module()
        header = ConfigHeader(self.i.payload)
        target = ConfigTarget(self.i.payload)
        dest = Signal(ConfigDest)
        addr = Signal(16)
        items = Signal(16)          # items left in a local record
        # Words left to forward: items x 1 or 2 words, 16-bit item counts.
        words = Signal(17)
        word = Signal(1)            # index of the next word within a local item
        staging = Signal(WORD_BITS)  # low word of a two-word item

        m.submodules.queue = queue = SyncFIFO(width=WORD_BITS, depth=2)
        m.d.comb += [
            self.o.valid.eq(queue.r_rdy),
            self.o.payload.eq(queue.r_data),
            queue.r_en.eq(self.o.ready),
        ]
        out_free = queue.w_rdy
        m.d.sync += self.write.valid.eq(0)

        def forward(payload):
            m.d.comb += [self.i.ready.eq(out_free), queue.w_data.eq(payload),
                         queue.w_en.eq(self.i.valid)]

        with m.FSM():
            with m.State("HEADER"):
                with m.If(header.hops == 0):
                    m.d.comb += self.i.ready.eq(1)
                    with m.If(self.i.valid):
                        m.d.sync += dest.eq(header.dest)
                        m.next = "LOCAL_TARGET"
                with m.Else():
                    forward(Cat((header.hops - 1)[:16], self.i.payload[16:]))
                    with m.If(self.i.valid & out_free):
                        m.d.sync += dest.eq(header.dest)
                        m.next = "FORWARD_TARGET"
            with m.State("FORWARD_TARGET"):
                forward(self.i.payload)
                with m.If(self.i.valid & out_free):
                    # Items are one or two words: the count doubled is a shift (a product
                    # here would take a DSP block in every tile).
                    two_word_items = Signal()
                    with m.Switch(dest):
                        for d, n in ITEM_WORDS.items():
                            with m.Case(d):
                                m.d.comb += two_word_items.eq(n == 2)
                    m.d.sync += words.eq(Mux(two_word_items, target.count << 1, target.count))
                    with m.If(target.count == 0):
                        m.next = "HEADER"
                    with m.Else():
                        m.next = "FORWARD_DATA"
            with m.State("FORWARD_DATA"):
                forward(self.i.payload)
                with m.If(self.i.valid & out_free):
                    m.d.sync += words.eq(words - 1)
                    with m.If(words == 1):
                        m.next = "HEADER"
            with m.State("LOCAL_TARGET"):
                m.d.comb += self.i.ready.eq(1)
                with m.If(self.i.valid):
                    m.d.sync += [addr.eq(target.addr), items.eq(target.count), word.eq(0)]
                    with m.If(target.count == 0):
                        m.next = "HEADER"
                    with m.Else():
                        m.next = "LOCAL_DATA"
            with m.State("LOCAL_DATA"):
                m.d.comb += self.i.ready.eq(1)
                two_words = (dest == ConfigDest.ROUTE) | (dest == ConfigDest.TASK)
                with m.If(self.i.valid):
                    with m.If(two_words & (word == 0)):
                        m.d.sync += [staging.eq(self.i.payload), word.eq(1)]
                    with m.Else():
                        m.d.sync += [
                            self.write.valid.eq(1),
                            self.write.dest.eq(dest),
                            self.write.addr.eq(addr),
                            # A two-word item is (staging = low word, payload = high word).
                            self.write.data.eq(Mux(two_words, Cat(staging, self.i.payload),
                                                   self.i.payload)),
                            addr.eq(addr + 1),
                            items.eq(items - 1),
                            word.eq(0),
                        ]
                        with m.If(items == 1):
                            m.next = "HEADER"
        return m
