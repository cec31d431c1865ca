"""Array programs: routes, PE tasks and memory images for every tile, checked as a whole and
compiled into the configuration chain's word stream."""

from dataclasses import dataclass, field

from wafer_engine.rtl.config_chain import ConfigDest
from wafer_engine.rtl.params import ArrayParams
from wafer_engine.rtl.pe.ports import Target
from wafer_engine.rtl.ports import Port, parse_port
from wafer_engine.rtl.route import Route, check_routes

from wafer_engine.fabric.program.config_records import ConfigRecord, encode
from wafer_engine.fabric.program.pe_task import PeProgram

__all__ = ["TileProgram", "ArrayProgram", "chain_order", "neighbour", "edge_of"]

_DEST = {Target.TASK: ConfigDest.TASK, Target.MEM: ConfigDest.MEM, Target.ACC: ConfigDest.ACC}
_DIRECTION = {Port.N: "north", Port.E: "east", Port.S: "south", Port.W: "west"}


def chain_order(rows, cols):
    """Tiles in configuration-chain order: row 0 west to east, row 1 east to west, ... (a snake,
    so consecutive tiles are neighbours)."""
    return [(r, c if r % 2 == 0 else cols - 1 - c) for r in range(rows) for c in range(cols)]


def edge_of(tile, port):
    """``(edge_port, position)`` of the array edge that ``port`` of a border ``tile`` faces:
    the column for the north and south edges, the row for the west and east edges."""
    return (port, tile[1] if port in (Port.N, Port.S) else tile[0])


def neighbour(tile, port):
    """The tile on the other side of ``port`` of ``tile`` (may lie outside the array)."""
    r, c = tile
    return {Port.N: (r - 1, c), Port.S: (r + 1, c), Port.E: (r, c + 1), Port.W: (r, c - 1)}[port]


@dataclass
class TileProgram:
    """What one tile runs: ``routes`` (``{color: Route}``), PE ``tasks`` (``{color: Task}``)
    and memory images (``{address: [words]}``)."""
    routes: dict = field(default_factory=dict)
    tasks: dict = field(default_factory=dict)
    mem: dict = field(default_factory=dict)
    acc: dict = field(default_factory=dict)


class ArrayProgram:
    """A whole-array program, validated before any hardware runs.

    Args:
        params: the array's :class:`wafer_engine.rtl.params.ArrayParams` (shape, router depth,
            PE); its ``rows``, ``cols`` and ``colors`` are also attributes of the program.
        tiles: ``{(row, col): TileProgram}``; tiles not named do nothing.
        inputs: ``{(edge_port, position): [Wavelet]}``: streams entering the array, where
            ``edge_port`` is the side (``"N"`` for the north edge, entering row 0 of column
            ``position``; ``"W"`` entering column 0 of row ``position``; likewise S and E).

    Raises ``ValueError`` naming the bad value for: an array size out of range, a tile outside
    the array, a bad route (color out of range, unknown port, U-turn, bad filter), a bad task or
    memory image (see :class:`~wafer_engine.fabric.program.pe_task.PeProgram`), a tile receiving a color its
    upstream neighbour (or the edge, or its own PE) never sends, a tile sending a color into a
    neighbour that does not receive it or to a PE without a task for it, and a color whose routes
    form a cycle.
    """

    def __init__(self, params, tiles=None, inputs=None):
        if not isinstance(params, ArrayParams):
            raise TypeError(f"params must be an ArrayParams, not {params!r}")
        self.params = params
        self.rows, self.cols, self.colors = params.rows, params.cols, params.colors
        self.tiles = {}
        self.routes = {}
        self.pes = {}
        for tile, program in (tiles or {}).items():
            self._check_tile(tile)
            self.tiles[tile] = program
            try:
                self.routes[tile] = check_routes(program.routes, self.colors)
                self.pes[tile] = PeProgram(program.tasks, mem=program.mem, acc=program.acc,
                                           params=params.pe)
            except ValueError as exc:
                raise ValueError(f"Tile {tile}: {exc}") from None
        self.inputs = {}
        for (edge, position), stream in (inputs or {}).items():
            edge = parse_port(edge)
            if edge == Port.RAMP:
                raise ValueError("An input enters through an edge N, E, S or W, not RAMP")
            length = self.cols if edge in (Port.N, Port.S) else self.rows
            if not isinstance(position, int) or not 0 <= position < length:
                raise ValueError(f"Edge {edge.name} position must be between 0 and "
                                 f"{length - 1}, not {position!r}")
            self.inputs[(edge, position)] = list(stream)
        self._check_links()
        self._check_cycles()

    def _check_tile(self, tile):
        if (not isinstance(tile, tuple) or len(tile) != 2
                or not all(isinstance(x, int) for x in tile)
                or not (0 <= tile[0] < self.rows and 0 <= tile[1] < self.cols)):
            raise ValueError(f"Tile must be a (row, col) inside the {self.rows}x{self.cols} "
                             f"array, not {tile!r}")

    def route(self, tile, color):
        """The route of ``color`` in ``tile`` (an empty route where none was given)."""
        return self.routes[tile][color] if tile in self.routes else Route()

    def _inside(self, tile):
        return 0 <= tile[0] < self.rows and 0 <= tile[1] < self.cols

    def _sends(self, tile, color):
        return tile in self.pes and any(t.out_color == color and t.op.name != "NONE"
                                        for t in self.pes[tile].tasks.values())

    def _check_links(self):
        for tile in sorted(self.routes):
            for color in range(self.colors):
                route = self.routes[tile][color]
                for p in sorted(route.rx):
                    if p == Port.RAMP:
                        if not self._sends(tile, color):
                            raise ValueError(f"Tile {tile} color {color} receives from RAMP but "
                                             f"no task of its PE sends color {color}")
                        continue
                    other = neighbour(tile, p)
                    if not self._inside(other):
                        edge = edge_of(tile, p)
                        if edge not in self.inputs:
                            raise ValueError(f"Tile {tile} color {color} receives from the "
                                             f"{_DIRECTION[p]} edge, which has no input "
                                             f"stream")
                    elif p.opposite not in self.route(other, color).tx:
                        raise ValueError(f"Tile {tile} color {color} receives from "
                                         f"{_DIRECTION[p]}, but tile {other} does not send "
                                         f"color {color} {_DIRECTION[p.opposite]}")
                for q in sorted(route.tx):
                    if q == Port.RAMP:
                        pe = self.pes.get(tile)
                        if pe is None or color not in pe.tasks:
                            raise ValueError(f"Tile {tile} color {color} is delivered to RAMP "
                                             f"but its PE has no task for color {color}")
                        continue
                    other = neighbour(tile, q)
                    if self._inside(other) and q.opposite not in self.route(other, color).rx:
                        raise ValueError(f"Tile {tile} color {color} sends {_DIRECTION[q]}, but "
                                         f"tile {other} does not receive color {color} from "
                                         f"{_DIRECTION[q.opposite]}")
        for (edge, position), stream in self.inputs.items():
            tile = (0, position) if edge == Port.N else (self.rows - 1, position) \
                if edge == Port.S else (position, 0) if edge == Port.W else (position, self.cols - 1)
            for w in stream:
                if not 0 <= w.color < self.colors or edge not in self.route(tile, w.color).rx:
                    raise ValueError(f"Input at edge {edge.name} position {position} carries "
                                     f"color {w.color}, which tile {tile} does not receive "
                                     f"from that edge")

    def _check_cycles(self):
        for color in range(self.colors):
            succ = {}
            for tile in self.routes:
                route = self.routes[tile][color]
                succ[tile] = [neighbour(tile, q) for q in sorted(route.tx)
                              if q != Port.RAMP and self._inside(neighbour(tile, q))]
            state = {}

            def visit(tile, path):
                state[tile] = "open"
                for nxt in succ.get(tile, ()):
                    if state.get(nxt) == "open":
                        loop = path[path.index(nxt):] + [nxt]
                        raise ValueError(f"Color {color} routes form a cycle: "
                                         + " -> ".join(str(t) for t in loop))
                    if nxt not in state:
                        visit(nxt, path + [nxt])
                state[tile] = "done"

            for tile in sorted(succ):
                if tile not in state:
                    visit(tile, [tile])

    def merge(self, other):
        """A program running both ``self`` and ``other`` on the same array; raises if both
        claim one color (route or task) on one tile."""
        if other.params != self.params:
            raise ValueError("Programs for different arrays cannot be merged")
        tiles = {t: TileProgram(dict(p.routes), dict(p.tasks), dict(p.mem), dict(p.acc))
                 for t, p in self.tiles.items()}
        for tile, p in other.tiles.items():
            mine = tiles.setdefault(tile, TileProgram())
            for kind in ("routes", "tasks"):
                clash = set(getattr(mine, kind)) & set(getattr(p, kind))
                if clash:
                    raise ValueError(f"Tile {tile} color {min(clash)} is claimed by two "
                                     f"programs")
                getattr(mine, kind).update(getattr(p, kind))
            mine.mem.update(p.mem)
            mine.acc.update(p.acc)
        inputs = dict(self.inputs)
        for key, stream in other.inputs.items():
            inputs[key] = inputs.get(key, []) + stream
        return ArrayProgram(self.params, tiles, inputs)

    def config_records(self):
        """The configuration as chain records, in chain order (``hops`` = chain position)."""
        records = []
        for hops, tile in enumerate(chain_order(self.rows, self.cols)):
            if tile in self.routes:
                entries = [r.as_entry().as_bits() for r in self.routes[tile]]
                records.append(ConfigRecord(hops, ConfigDest.ROUTE, 0, tuple(entries)))
            if tile in self.pes:
                records += _runs(hops, self.pes[tile].config_writes())
        return records

    def config_words(self):
        """The configuration chain's word stream."""
        return encode(self.config_records())


def _runs(hops, writes):
    """Group ``(target, addr, data)`` writes into records of consecutive addresses."""
    records = []
    for target, addr, data in writes:
        dest = _DEST[target]
        last = records[-1] if records else None
        if last and last.dest == dest and last.addr + len(last.items) == addr \
                and len(last.items) < 0xFFFF:
            records[-1] = last._replace(items=last.items + (data,))
        else:
            records.append(ConfigRecord(hops, dest, addr, (data,)))
    return records
