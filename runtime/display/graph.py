"""A graph neighbourhood (`Memory.semantic.neighbors` result) as HTML: a small SVG drawing of
the nodes and edges (drawn here, no JavaScript) above tables of the nodes and edges."""

from __future__ import annotations

import html
import math
from typing import Any

from llmspell.runtime.display.bundles import html_table

SIZE = 420
RING = 150  # radius of the outermost ring
MAX_DRAWN = 60  # nodes drawn; the tables list them all


def is_neighbourhood(value: Any) -> bool:
    """Whether `value` has the shape of a neighbors result: `{nodes, edges}` records."""
    if not isinstance(value, dict) or set(value) != {"nodes", "edges"}:
        return False
    nodes, edges = (_rows(value["nodes"]), _rows(value["edges"]))
    if nodes is None or edges is None:
        return False
    return all({"id", "name", "depth"} <= set(n) for n in nodes) and all(
        {"from", "to", "type"} <= set(e) for e in edges
    )


def _rows(value: Any) -> list[dict[str, Any]] | None:
    if value in ({}, []):  # an empty Lua table arrives as {}
        return []
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return value
    return None


def neighbourhood_html(value: dict[str, Any]) -> str:
    nodes = _rows(value["nodes"]) or []
    edges = _rows(value["edges"]) or []
    names = {n["id"]: str(n["name"]) for n in nodes}
    node_rows = [{"name": n["name"], "type": n.get("type", ""), "depth": n["depth"]} for n in nodes]
    edge_rows = [
        {
            "from": names.get(e["from"], "start"),
            "type": e["type"],
            "to": names.get(e["to"], "start"),
        }
        for e in edges
    ]
    parts = [neighbourhood_svg(nodes, edges)]
    parts.append(
        html_table(node_rows, ["name", "type", "depth"]) if node_rows else "<p>no nodes</p>"
    )
    if edge_rows:
        parts.append(html_table(edge_rows, ["from", "type", "to"]))
    return "<div>" + "".join(parts) + "</div>"


def neighbourhood_svg(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> str:
    """Rings by depth around the start entity; edges as labelled lines."""
    centre = SIZE / 2
    drawn = nodes[:MAX_DRAWN]
    depth = max((int(n["depth"]) for n in drawn), default=1)
    position: dict[str, tuple[float, float]] = {}
    for ring in range(1, depth + 1):
        on_ring = [n for n in drawn if int(n["depth"]) == ring]
        radius = RING * ring / depth
        for i, node in enumerate(on_ring):
            angle = 2 * math.pi * i / len(on_ring) - math.pi / 2 + ring * 0.4
            position[node["id"]] = (
                centre + radius * math.cos(angle),
                centre + radius * math.sin(angle),
            )
    ends = {e["from"] for e in edges} | {e["to"] for e in edges}
    for start in ends - set(position):
        position[start] = (centre, centre)
    out: list[str] = []
    box = _Box()
    for edge in edges:
        if edge["from"] not in position or edge["to"] not in position:
            continue
        (x1, y1), (x2, y2) = position[edge["from"]], position[edge["to"]]
        out.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#999"/>'
            f'<text x="{(x1 + x2) / 2:.1f}" y="{(y1 + y2) / 2 - 3:.1f}" fill="#666" '
            f'text-anchor="middle">{html.escape(str(edge["type"]))}</text>'
        )
        box.add_text((x1 + x2) / 2, (y1 + y2) / 2 - 3, str(edge["type"]))
    labels = {n["id"]: str(n["name"]) for n in drawn}
    for node_id, (x, y) in position.items():
        start = node_id not in labels
        fill = "#f5a623" if start else "#4a90d9"
        label = "start" if start else labels[node_id]
        out.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{9 if start else 7}" fill="{fill}"/>'
            f'<text x="{x:.1f}" y="{y + 20:.1f}" text-anchor="middle">{html.escape(label)}</text>'
        )
        box.add(x - 9, y - 9)
        box.add_text(x, y + 20, label)
    # the drawing's own extent, not the whole square the rings could fill: a single edge
    # was a short line in the middle of 420 x 420 px of white
    left, top, width, height = box.view(padding=8)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.1f}" height="{height:.1f}" '
        f'viewBox="{left:.1f} {top:.1f} {width:.1f} {height:.1f}" font-family="sans-serif" '
        'font-size="11">'
    )
    return head + "".join(out) + "</svg>"


CHAR_WIDTH = 6.5  # a sans-serif character at font-size 11, on average (px)


class _Box:
    """The bounding box of what a drawing holds (points, centred text labels)."""

    def __init__(self) -> None:
        self.x0 = self.y0 = math.inf
        self.x1 = self.y1 = -math.inf

    def add(self, x: float, y: float) -> None:
        self.x0, self.x1 = min(self.x0, x), max(self.x1, x)
        self.y0, self.y1 = min(self.y0, y), max(self.y1, y)

    def add_text(self, x: float, baseline: float, text: str) -> None:
        half = len(text) * CHAR_WIDTH / 2
        self.add(x - half, baseline - 11)
        self.add(x + half, baseline + 3)

    def view(self, padding: float) -> tuple[float, float, float, float]:
        if self.x0 == math.inf:  # nothing drawn
            return 0.0, 0.0, 2 * padding, 2 * padding
        return (
            self.x0 - padding,
            self.y0 - padding,
            self.x1 - self.x0 + 2 * padding,
            self.y1 - self.y0 + 2 * padding,
        )
