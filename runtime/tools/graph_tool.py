"""The `graph-builder` tool: a graph as a plain table (`{graph_type, nodes, edges}`) that each
call takes and returns: create it, add nodes and edges, analyze it, export and import JSON."""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from llmspell.runtime.tools.registry import Tool, ToolFailure

MAX_NODES = 10_000
MAX_EDGES = 50_000
MAX_JSON_CHARS = 10 * 1024 * 1024
OPERATIONS = ("create_graph", "add_node", "add_edge", "analyze", "export_json", "import_json")
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "operation": {"enum": list(OPERATIONS)},
        "graph_type": {"enum": ["directed", "undirected"]},
        "graph": {"type": ["object", "string"]},
        "input": {"type": "string", "maxLength": MAX_JSON_CHARS},
        "node_id": {"type": "string", "minLength": 1},
        "label": {"type": "string"},
        "data": {},
        "from": {"type": "string", "minLength": 1},
        "to": {"type": "string", "minLength": 1},
        "weight": {"type": "number"},
    },
    "required": ["operation"],
    "additionalProperties": False,
    "allOf": [
        {
            "if": {"properties": {"operation": {"enum": ["add_node", "add_edge", "analyze"]}}},
            "then": {"required": ["graph"]},
        },
        {
            "if": {"properties": {"operation": {"const": "add_node"}}},
            "then": {"required": ["node_id"]},
        },
        {
            "if": {"properties": {"operation": {"const": "add_edge"}}},
            "then": {"required": ["from", "to"]},
        },
        {
            "if": {"properties": {"operation": {"const": "export_json"}}},
            "then": {"required": ["graph"]},
        },
        {
            "if": {"properties": {"operation": {"const": "import_json"}}},
            "then": {"required": ["input"]},
        },
    ],
}


def build(params: dict[str, Any]) -> Any:
    """The result of one graph-builder operation (see SCHEMA)."""
    operation = params["operation"]
    if operation == "create_graph":
        return {"graph_type": params.get("graph_type", "directed"), "nodes": [], "edges": []}
    if operation == "import_json":
        return _graph(params["input"])
    graph = _graph(params["graph"])
    if operation == "export_json":
        return json.dumps(graph, ensure_ascii=False, sort_keys=True)
    if operation == "analyze":
        return _analyze(graph)
    if operation == "add_node":
        if any(node["id"] == params["node_id"] for node in graph["nodes"]):
            raise ToolFailure(f"node {params['node_id']!r} is already in the graph")
        if len(graph["nodes"]) >= MAX_NODES:
            raise ToolFailure(f"a graph has at most {MAX_NODES} nodes")
        node: dict[str, Any] = {"id": params["node_id"], "label": params.get("label", "")}
        if "data" in params:
            node["data"] = params["data"]
        graph["nodes"].append(node)
        return graph
    ids = {node["id"] for node in graph["nodes"]}
    for end in ("from", "to"):
        if params[end] not in ids:
            raise ToolFailure(f"edge {end} {params[end]!r} is not a node of the graph")
    if len(graph["edges"]) >= MAX_EDGES:
        raise ToolFailure(f"a graph has at most {MAX_EDGES} edges")
    edge: dict[str, Any] = {"from": params["from"], "to": params["to"]}
    for key in ("label", "weight", "data"):
        if key in params:
            edge[key] = params[key]
    graph["edges"].append(edge)
    return graph


def _graph(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        if len(value) > MAX_JSON_CHARS:
            raise ToolFailure(f"graph JSON is longer than {MAX_JSON_CHARS} characters")
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ToolFailure(f"graph is not valid JSON: {exc.msg}") from None
    if not isinstance(value, dict):
        raise ToolFailure("graph must be a table {graph_type, nodes, edges} or its JSON")
    nodes, edges = value.get("nodes", []), value.get("edges", [])
    nodes = [] if nodes == {} else nodes
    edges = [] if edges == {} else edges
    if value.get("graph_type", "directed") not in ("directed", "undirected"):
        raise ToolFailure("graph_type must be 'directed' or 'undirected'")
    if not isinstance(nodes, list) or not all(isinstance(n, dict) and "id" in n for n in nodes):
        raise ToolFailure("graph.nodes must be a list of tables with an id")
    if not isinstance(edges, list) or not all(
        isinstance(e, dict) and "from" in e and "to" in e for e in edges
    ):
        raise ToolFailure("graph.edges must be a list of tables with from and to")
    if len(nodes) > MAX_NODES or len(edges) > MAX_EDGES:
        raise ToolFailure(f"a graph has at most {MAX_NODES} nodes and {MAX_EDGES} edges")
    return {
        "graph_type": value.get("graph_type", "directed"),
        "nodes": [dict(n) for n in nodes],
        "edges": [dict(e) for e in edges],
    }


def _analyze(graph: dict[str, Any]) -> dict[str, Any]:
    ids = [node["id"] for node in graph["nodes"]]
    directed = graph["graph_type"] == "directed"
    degree = dict.fromkeys(ids, 0)
    neighbours: dict[Any, set[Any]] = {i: set() for i in ids}
    for edge in graph["edges"]:
        for end in (edge["from"], edge["to"]):
            if end in degree:
                degree[end] += 1
        if edge["from"] in neighbours and edge["to"] in neighbours:
            neighbours[edge["from"]].add(edge["to"])
            neighbours[edge["to"]].add(edge["from"])  # connectivity ignores direction
    n, m = len(ids), len(graph["edges"])
    pairs = n * (n - 1) if directed else n * (n - 1) / 2
    components = _components(ids, neighbours)
    return {
        "graph_type": graph["graph_type"],
        "node_count": n,
        "edge_count": m,
        "density": round(m / pairs, 6) if pairs else 0.0,
        "degrees": degree,
        "components": components,
        "is_connected": components <= 1,
    }


def _components(ids: list[Any], neighbours: dict[Any, set[Any]]) -> int:
    seen: set[Any] = set()
    count = 0
    for start in ids:
        if start in seen:
            continue
        count += 1
        queue = deque([start])
        seen.add(start)
        while queue:
            for nxt in neighbours[queue.popleft()]:
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
    return count


TOOL = Tool(
    name="graph-builder",
    description="Builds a graph (create_graph, add_node, add_edge), analyzes it (degrees, "
    "density, connectivity) and exports or imports it as JSON",
    category="data",
    schema=SCHEMA,
    run=build,
    tags=("graph", "data", "offline"),
    aliases={"source": "from", "target": "to"},
)
