"""A picture of the workflow drawn from the ASL itself, like the Step Functions console graph.

The layout is layered: each state sits one row below the furthest state that leads to it,
loops (the account-status poll) are drawn up the right-hand side, Catch edges run down a
gutter on the left, and a Map holds its item processor drawn the same way inside its box.
Because it reads :func:`workflows.definition.raw_definition`, a changed definition is drawn
as it is, never as a picture someone forgot to update.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from workflows.definition import raw_definition

__all__ = ["Edge", "Graph", "Node", "workflow_graph"]

_W, _H = 168, 34
_ROW_GAP, _COL_GAP, _PAD, _HEADER, _GUTTER = 34, 24, 16, 26, 28


@dataclass(frozen=True)
class Node:
    name: str
    type: str
    x: float
    y: float
    w: float
    h: float
    container: bool


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    d: str
    kind: str
    """``next``, ``loop`` or ``catch``."""


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    width: float
    height: float


@dataclass
class _Item:
    name: str
    type: str
    w: float
    h: float
    inner: _Block | None = None
    x: float = 0.0
    y: float = 0.0


@dataclass
class _Block:
    items: dict[str, _Item]
    links: list[tuple[str, str, str]]
    width: float = 0.0
    height: float = 0.0
    order: list[str] = field(default_factory=list)


def _targets(state: dict[str, Any]) -> list[tuple[str, str]]:
    found = [(c["Next"], "next") for c in state.get("Choices", []) if "Next" in c]
    for key in ("Next", "Default"):
        if key in state:
            found.append((state[key], "next"))
    found += [(c["Next"], "catch") for c in state.get("Catch", [])]
    return found


def _depth_first(states: dict[str, Any], start: str) -> tuple[list[str], set[tuple[str, str]]]:
    """States in finishing order reversed (a topological order) and the loop edges."""
    done: list[str] = []
    loops: set[tuple[str, str]] = set()
    on_path: set[str] = set()
    seen: set[str] = set()

    def visit(name: str) -> None:
        seen.add(name)
        on_path.add(name)
        for target, _ in _targets(states[name]):
            if target in on_path:
                loops.add((name, target))
            elif target not in seen and target in states:
                visit(target)
        on_path.discard(name)
        done.append(name)

    visit(start)
    order = list(reversed(done)) + [n for n in states if n not in seen]
    return order, loops


def _layers(states: dict[str, Any], start: str) -> tuple[list[list[str]], set[tuple[str, str]]]:
    order, loops = _depth_first(states, start)
    layer = dict.fromkeys(order, 0)
    for name in order:
        for target, _ in _targets(states[name]):
            if target in layer and (name, target) not in loops:
                layer[target] = max(layer[target], layer[name] + 1)
    rows: list[list[str]] = [[] for _ in range(max(layer.values()) + 1)]
    for name in order:
        rows[layer[name]].append(name)
    return rows, loops


def _item(name: str, state: dict[str, Any]) -> _Item:
    processor = state.get("ItemProcessor") or state.get("Iterator")
    if processor:
        inner = _layout(processor["States"], processor["StartAt"])
        return _Item(
            name, state["Type"], inner.width + 2 * _PAD, inner.height + _HEADER + _PAD, inner
        )
    return _Item(name, state["Type"], _W, _H)


def _layout(states: dict[str, Any], start: str) -> _Block:
    rows, loops = _layers(states, start)
    items = {name: _item(name, state) for name, state in states.items()}
    width = max(sum(items[n].w for n in row) + _COL_GAP * (len(row) - 1) for row in rows)
    y = 0.0
    for row in rows:
        row_width = sum(items[n].w for n in row) + _COL_GAP * (len(row) - 1)
        x = _GUTTER + (width - row_width) / 2
        for name in row:
            items[name].x, items[name].y = x, y
            x += items[name].w + _COL_GAP
        y += max(items[n].h for n in row) + _ROW_GAP
    links = [
        (name, target, "loop" if (name, target) in loops else kind)
        for name, state in states.items()
        for target, kind in _targets(state)
        if target in items
    ]
    return _Block(items, links, width + 2 * _GUTTER, y - _ROW_GAP, [n for r in rows for n in r])


def _loop(a: _Item, b: _Item, middle: float, ox: float, oy: float) -> str:
    """Up the side the loop's source is on, so it crosses none of its row's neighbours."""
    left = a.x + a.w / 2 < middle
    x1 = ox + (a.x if left else a.x + a.w)
    x2 = ox + (b.x if left else b.x + b.w)
    y1, y2 = oy + a.y + a.h / 2, oy + b.y + b.h / 2
    bend = min(x1, x2) - 36 if left else max(x1, x2) + 36
    return f"M{x1:.0f},{y1:.0f} C{bend:.0f},{y1:.0f} {bend:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"


def _path(a: _Item, b: _Item, kind: str, block: _Block, ox: float, oy: float) -> str:
    if kind == "loop":
        return _loop(a, b, block.width / 2, ox, oy)
    if kind == "catch":
        x1, y1 = ox + a.x, oy + a.y + a.h / 2
        x2, y2 = ox + b.x, oy + b.y + b.h / 2
        bend = ox + 6
        return f"M{x1:.0f},{y1:.0f} C{bend:.0f},{y1:.0f} {bend:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
    x1, y1 = ox + a.x + a.w / 2, oy + a.y + a.h
    x2, y2 = ox + b.x + b.w / 2, oy + b.y
    mid = (y1 + y2) / 2
    return f"M{x1:.0f},{y1:.0f} C{x1:.0f},{mid:.0f} {x2:.0f},{mid:.0f} {x2:.0f},{y2:.0f}"


def _flatten(block: _Block, ox: float, oy: float, nodes: list[Node], edges: list[Edge]) -> None:
    for name in block.order:
        item = block.items[name]
        nodes.append(
            Node(name, item.type, ox + item.x, oy + item.y, item.w, item.h, item.inner is not None)
        )
        if item.inner is not None:
            _flatten(item.inner, ox + item.x + _PAD, oy + item.y + _HEADER, nodes, edges)
    for source, target, kind in block.links:
        a, b = block.items[source], block.items[target]
        edges.append(Edge(source, target, _path(a, b, kind, block, ox, oy), kind))


@cache
def workflow_graph() -> Graph:
    """The stream-vending workflow laid out once per process (the definition is fixed)."""
    definition = json.loads(raw_definition())
    block = _layout(definition["States"], definition["StartAt"])
    nodes: list[Node] = []
    edges: list[Edge] = []
    _flatten(block, 0.0, 8.0, nodes, edges)
    return Graph(tuple(nodes), tuple(edges), block.width + 40, block.height + 16)
