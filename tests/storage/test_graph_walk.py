"""The graph walk (`neighbors`) against a breadth-first search in Python over the stored
versions of a seeded random bi-temporal graph, on memory, sqlite and postgres: the same
entities with the same hop counts and versions, the same edges, at past and present valid and
transaction times, in every direction, with and without types, at depths 1 to 6."""

from __future__ import annotations

import random
import re
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from ops_helpers import fresh_pg_settings
from sqlalchemy import insert
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect

from llmspell.storage import SqlStorage, StorageSettings, open_storage
from llmspell.storage.components.graph import (
    MAX_DEPTH,
    EntityVersion,
    Neighbourhood,
    RelationshipVersion,
    SqlGraphStore,
)
from llmspell.storage.components.graph.tables import graph_entities, graph_relationships
from llmspell.storage.components.graph.walk import OneStepWalk
from llmspell.storage.postgres.embedded import PgLogins

TYPES = ("a", "b", "c")


def at(year: int) -> datetime:
    return datetime(year, 1, 1, tzinfo=UTC)


def holds(version: EntityVersion | RelationshipVersion, as_of: datetime, known: datetime) -> bool:
    """The bi-temporal rule, written out: valid at `as_of`, believed at `known`."""
    return (
        version.valid_from <= as_of
        and (version.valid_to is None or version.valid_to > as_of)
        and version.recorded_at <= known
        and (version.superseded_at is None or version.superseded_at > known)
    )


@dataclass
class Graph:
    entities: dict[str, list[EntityVersion]]  # every version, as stored
    relationships: list[RelationshipVersion]
    moments: list[datetime]  # transaction times between the phases that built the graph


def build(g: SqlGraphStore, rng: random.Random) -> Graph:
    """40 entities and 140 edges (self-loops and parallel edges among them) with valid
    periods, then updates, closes and past corrections recorded later."""
    entities = []
    for i in range(40):
        start = rng.randint(2010, 2016)
        end = at(rng.randint(2021, 2030)) if rng.random() < 0.2 else None
        entities.append(g.add_entity(f"n{i % 30}", "node", {"i": i}, at(start), end))
    relationships = []
    for _ in range(140):
        source, target = rng.choice(entities), rng.choice(entities)
        start = rng.randint(2010, 2018)
        end = at(rng.randint(2019, 2030)) if rng.random() < 0.25 else None
        relationships.append(
            g.add_relationship(source, target, rng.choice(TYPES), {"w": 1}, at(start), end)
        )
    moments = []
    for _ in range(2):
        time.sleep(0.002)
        moments.append(datetime.now(UTC))
        time.sleep(0.002)
        for entity in rng.sample(entities, 6):
            g.update_entity(entity, {"seen": rng.randint(0, 9)}, at(rng.randint(2012, 2024)))
        for entity in rng.sample(entities, 3):
            g.delete_entity(entity, at(rng.randint(2017, 2026)))
        for relationship in rng.sample(relationships, 12):
            g.delete_relationship(relationship, at(rng.randint(2014, 2026)))
    return Graph(
        {e: g.entity_history(e) for e in entities},
        [edge for r in relationships for edge in g.relationship_history(r)],
        moments,
    )


def breadth_first(
    graph: Graph,
    start: str,
    depth: int,
    direction: str,
    types: list[str] | None,
    as_of: datetime,
    known: datetime,
) -> tuple[dict[str, tuple[EntityVersion, int]], dict[str, RelationshipVersion]]:
    """What `neighbors` must find, from the full histories and the rule in `holds`."""
    valid = {
        entity: version
        for entity, versions in graph.entities.items()
        for version in versions
        if holds(version, as_of, known)
    }
    steps: dict[str, list[tuple[RelationshipVersion, str]]] = {e: [] for e in graph.entities}
    for edge in graph.relationships:
        if not holds(edge, as_of, known) or (types is not None and edge.type not in types):
            continue
        if direction in ("out", "both"):
            steps[edge.from_id].append((edge, edge.to_id))
        if direction in ("in", "both"):
            steps[edge.to_id].append((edge, edge.from_id))
    if start not in valid:
        return {}, {}
    hops = {start: 0}
    edges: dict[str, RelationshipVersion] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if hops[node] == depth:
            continue
        for edge, other in steps[node]:
            if other not in valid:
                continue
            edges[edge.id] = edge
            if other not in hops:
                hops[other] = hops[node] + 1
                queue.append(other)
    nodes = {e: (valid[e], n) for e, n in hops.items() if e != start}
    return nodes, edges


def check(found: Neighbourhood, nodes: dict[str, Any], edges: dict[str, Any]) -> None:
    assert found.nodes == sorted(nodes.values(), key=lambda n: (n[1], n[0].name, n[0].id))
    assert {edge.id: edge for edge in found.edges} == edges
    assert len(found.edges) == len(edges), "each edge once"
    keys = [(edge.type, edge.from_id, edge.to_id) for edge in found.edges]
    assert keys == sorted(keys)


def test_neighbors_equal_a_breadth_first_search_over_the_stored_versions(
    storage: SqlStorage,
) -> None:
    compare_with_breadth_first_search(storage.graph)


def test_the_one_step_walk_of_sqlite_before_3_34_finds_the_same(tmp_path: Path) -> None:
    """SQLite before 3.34 allows one recursive step: both directions join edges by either end
    (`OneStepWalk`, PostgreSQL's shape), with the same results."""
    settings = StorageSettings(backend="sqlite", sqlite_path=str(tmp_path / "g.db"))
    with open_storage(settings, "old-sqlite") as storage:
        g = storage.graph
        g._walk = OneStepWalk(g._tenant, g._entities, g._relationships)
        compare_with_breadth_first_search(g)


def compare_with_breadth_first_search(g: SqlGraphStore) -> None:
    rng = random.Random(19)
    graph = build(g, rng)
    now = datetime.now(UTC)
    reached_far = 0
    for known in [*graph.moments, now]:
        for as_of in (at(2013), at(2019), at(2025), now):
            for direction in ("out", "in", "both"):
                for depth in (1, 2, 4, MAX_DEPTH):
                    types = rng.choice([None, ["a"], ["a", "b"], []])
                    start = rng.choice(list(graph.entities))
                    nodes, edges = breadth_first(
                        graph, start, depth, direction, types, as_of, known
                    )
                    found = g.neighbors(start, depth, direction, types, as_of, known)  # type: ignore[arg-type]
                    check(found, nodes, edges)
                    reached_far += any(hops > 2 for _, hops in nodes.values())
    assert reached_far > 10, "the random graph is deep enough to test depth limits"


def test_entities_with_equal_properties_do_not_share_them(storage: SqlStorage) -> None:
    """The walk converts each distinct JSON text once per call; what it hands out is still
    each entity's own (a nested value changed on one is not changed on another)."""
    g = storage.graph
    hub = g.add_entity("hub", "node", {})
    flat = [g.add_entity(f"f{i}", "node", {"k": 1}) for i in range(2)]
    nested = [g.add_entity(f"n{i}", "node", {"tags": ["x"], "at": {"k": 1}}) for i in range(2)]
    for entity in flat + nested:
        g.add_relationship(hub, entity, "has", {"w": [1]})
    found = {node.name: node for node, _ in g.neighbors(hub).nodes}
    found["f0"].properties["k"] = 2
    found["n0"].properties["tags"].append("y")
    found["n0"].properties["at"]["k"] = 2
    assert found["f1"].properties == {"k": 1}
    assert found["n1"].properties == {"tags": ["x"], "at": {"k": 1}}
    first, second = g.neighbors(hub).edges[:2]
    first.properties["w"].append(2)
    assert second.properties == {"w": [1]}


def _sqlite_walk_plan(storage: SqlStorage, direction: str, start: str, depth: int) -> list[str]:
    """SQLite's plan of the walk (`EXPLAIN QUERY PLAN`) from `start`, at any moment."""
    statement = storage.graph._walk._statement(direction, False)  # the plan is the point
    with storage.database("graph").transaction() as conn:
        compiled = statement.compile(dialect=conn.dialect)
        values = compiled.construct_params(
            {"start": start, "depth": depth, "as_of": "x", "known_at": "x"}
        )
        rows = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + str(compiled),
            tuple(values[name] for name in compiled.positiontup or ()),
        )
        return [str(row[-1]) for row in rows]


def _insert_random_graph(
    conn: Any, tenant: str, entities: int, edges: int, rng: random.Random
) -> None:
    """`entities` entities e0, e1, ... and `edges` edges between random ones, one version each,
    valid and recorded since 2020."""
    since = at(2020)
    versions = {"version": 1, "properties": {}, "valid_from": since, "valid_to": None}
    times = {"recorded_at": since, "superseded_at": None}
    conn.execute(
        insert(graph_entities),
        [
            {"tenant_id": tenant, "entity_id": f"e{i}", "name": f"e{i}", "type": "node",
             **versions, **times}
            for i in range(entities)
        ],
    )  # fmt: skip
    conn.execute(
        insert(graph_relationships),
        [
            {"tenant_id": tenant, "relationship_id": f"r{i}",
             "from_id": f"e{rng.randrange(entities)}", "to_id": f"e{rng.randrange(entities)}",
             "type": "link", **versions, **times}
            for i in range(edges)
        ],
    )  # fmt: skip


@pytest.mark.parametrize("direction", ["out", "in", "both"])
def test_on_sqlite_every_step_finds_edges_by_their_end_not_by_scanning_the_tenant(
    tmp_path: Path, direction: str
) -> None:
    """One step with an OR over both ends made SQLite scan the tenant's edges for every entity
    walked (seconds at 50K edges): each edge lookup names the end it starts from."""
    settings = StorageSettings(backend="sqlite", sqlite_path=str(tmp_path / "g.db"))
    with open_storage(settings, "planner") as storage:
        # Values play no part in SQLite's plan here: every parameter is a string.
        plan = _sqlite_walk_plan(storage, direction, start="x", depth=3)
    edges = [line for line in plan if "graph_relationships" in line]
    assert edges, plan
    assert all(re.search(r"\((tenant_id=\? AND (from|to)_id=\?)", line) for line in edges), plan


@pytest.mark.parametrize("direction", ["out", "both"])
def test_on_sqlite_an_analyze_leaves_the_walk_on_its_covering_indexes(
    tmp_path: Path, direction: str
) -> None:
    """After ANALYZE (a user's, or `PRAGMA optimize`) SQLite guessed the recursive CTE larger
    than the graph's tables and built a Bloom filter of the edges and the entities for every
    step, reading their rows instead of the covering walk indexes (2.3x the walk's time at
    50K edges). The step's depth condition tells the planner otherwise."""
    settings = StorageSettings(backend="sqlite", sqlite_path=str(tmp_path / "g.db"))
    with open_storage(settings, "analyzed") as storage:
        with storage.database("graph").transaction(write=True) as conn:
            _insert_random_graph(conn, "analyzed", 1000, 5000, random.Random(3))
            conn.exec_driver_sql("ANALYZE")
        plan = _sqlite_walk_plan(storage, direction, start="e0", depth=4)
        assert len(storage.graph.neighbors("e0", 4).nodes) > 100, "the walk goes deep"
    assert not [line for line in plan if "BLOOM" in line], plan
    step = plan[plan.index("RECURSIVE STEP") :]
    lookups = [line for line in step if line.startswith("SEARCH")][:2]
    assert len(lookups) == 2 and all("COVERING INDEX" in line for line in lookups), plan


def test_versions_built_by_the_walk_equal_dataclass_built_ones() -> None:
    from llmspell.storage.components.graph.model import (
        EntityVersion,
        RelationshipVersion,
        entity_of,
        relationship_of,
    )

    at = datetime(2024, 1, 2, tzinfo=UTC)
    entity = entity_of("e1", 2, "Alice", "person", {"k": 1}, at, None, at, None)
    made = EntityVersion("e1", 2, "Alice", "person", {"k": 1}, at, None, at, None)
    assert entity == made and repr(entity) == repr(made)
    edge = relationship_of("r1", 1, "e1", "e2", "knows", None, at, None, at, None)
    assert edge == RelationshipVersion("r1", 1, "e1", "e2", "knows", {}, at, None, at, None)
    with pytest.raises(AttributeError):
        entity.name = "Bob"  # type: ignore[misc]


@pytest.mark.parametrize("plan_cache_mode", ["force_generic_plan", "force_custom_plan"])
def test_on_postgres_the_walk_reads_tables_by_key_and_the_reached_set_once(
    pg_urls: PgLogins, unique_tenant: str, plan_cache_mode: str
) -> None:
    """psycopg prepares a statement run often, and PostgreSQL then may plan it once for any
    start entity (a generic plan). Either plan reads both tables by their keys and the walk's
    results once (an earlier shape re-scanned the reached set per edge under its generic
    plan: 40 ms instead of 5 on 10K entities), as the app role under row-level security. A
    database of its own, so that the planner's statistics are those of this graph only."""
    with fresh_pg_settings(pg_urls) as settings:
        assert settings.pg_url and settings.pg_admin_url
        with open_storage(settings, unique_tenant) as storage:
            with storage.database("graph").transaction(write=True) as conn:
                _insert_random_graph(conn, unique_tenant, 3000, 12000, random.Random(7))
            with psycopg.connect(settings.pg_admin_url, autocommit=True) as owner:
                owner.execute("ANALYZE graph_entities, graph_relationships")
            compiled = storage.graph._walk._statement("out", False).compile(
                dialect=psycopg_dialect(paramstyle="numeric_dollar")
            )
            now = datetime.now(UTC)
            values = compiled.construct_params(
                {"start": "e0", "depth": 4, "as_of": now, "known_at": now}
            )
            args = [values[name] for name in compiled.positiontup or ()]
            reached = len(storage.graph.neighbors("e0", 4).nodes)
        assert reached > 100, "the walk goes deep enough to tell plans apart"
        with psycopg.connect(settings.pg_url, autocommit=True) as app:
            cur = psycopg.ClientCursor(app)
            cur.execute("SELECT set_config('app.tenant_id', %s, false)", [unique_tenant])
            cur.execute(f"SET plan_cache_mode = {plan_cache_mode}")
            cur.execute(f"PREPARE walk AS {compiled}")
            placeholders = ", ".join(["%s"] * len(args))
            cur.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE walk({placeholders})", args)
            (plan,) = cur.fetchone() or (None,)
    nodes = list(_plan_nodes(plan[0]["Plan"]))
    scans = {(n["Relation Name"], n["Node Type"]) for n in nodes if "Relation Name" in n}
    assert {relation for relation, _ in scans} == {"graph_entities", "graph_relationships"}
    assert all(kind in ("Index Scan", "Index Only Scan") for _, kind in scans), scans
    rescans = [(n["Node Type"], n["Actual Loops"]) for n in nodes if n["Node Type"] in _RESULTS]
    assert rescans and all(loops == 1 for _, loops in rescans), rescans
    assert plan[0]["Plan"]["Actual Rows"] > reached


def with_history(rng: random.Random, changed: float) -> list[dict[str, Any]]:
    """The versions of one entity or edge: one open version, or (a share `changed`) 1-3
    changes at distinct valid and transaction times, each superseding the open version and
    re-recording its closed part, as the store does; a tenth of those closed at last."""
    start = at(2020) + timedelta(seconds=rng.randrange(10**7), microseconds=rng.randrange(10**6))
    open_row: dict[str, Any] | None = {
        "valid_from": start,
        "valid_to": None,
        "recorded_at": start,
        "superseded_at": None,
    }
    rows = []
    changes = rng.randint(1, 3) if rng.random() < changed else 0
    for n in range(changes + (changes > 0 and rng.random() < 0.1)):
        assert open_row is not None
        moment = open_row["valid_from"] + timedelta(seconds=rng.randrange(1, 10**7))
        recorded = max(moment, open_row["recorded_at"]) + timedelta(
            seconds=rng.randrange(1, 10**5), microseconds=rng.randrange(10**6)
        )
        rows += [
            {**open_row, "superseded_at": recorded},
            {**open_row, "valid_to": moment, "recorded_at": recorded},
        ]
        open_row = None if n == changes else {**open_row, "valid_from": moment,
                                              "recorded_at": recorded}  # fmt: skip
    rows += [open_row] if open_row else []
    return [{**row, "version": v, "properties": {}} for v, row in enumerate(rows, start=1)]


def test_on_postgres_a_graph_with_history_is_walked_by_key_once_prepared(
    pg_urls: PgLogins, unique_tenant: str
) -> None:
    """Most entities and edges changed (several versions each, `valid_to` and `superseded_at`
    with many distinct values), as real use makes them: the plan the prepared walk keeps (from
    its sixth execution on, PostgreSQL's generic plan) still reads both tables by key. (The
    plans for the values of the first five executions may read the valid edges with a
    sequential scan here, as cheap in the end: `benchmarks/graph_history_bench.py`.) A
    database of its own, analyzed from every row, so that the statistics are those of this
    graph only and the same each run."""
    rng = random.Random(5)
    with fresh_pg_settings(pg_urls) as settings:
        assert settings.pg_url and settings.pg_admin_url
        with open_storage(settings, unique_tenant) as storage:
            tenant = {"tenant_id": unique_tenant}
            entities = [
                {**tenant, "entity_id": f"e{i}", "name": f"e{i}", "type": "node", **row}
                for i in range(3000)
                for row in with_history(rng, 0.7)
            ]
            edges = [
                {**tenant, "relationship_id": f"r{i}", "from_id": source, "to_id": target,
                 "type": "link", **row}
                for i in range(12000)
                for source, target in [(f"e{rng.randrange(3000)}", f"e{rng.randrange(3000)}")]
                for row in with_history(rng, 0.7)
            ]  # fmt: skip
            with storage.database("graph").transaction(write=True) as conn:
                conn.execute(insert(graph_entities), entities)
                conn.execute(insert(graph_relationships), edges)
            with psycopg.connect(settings.pg_admin_url, autocommit=True) as owner:
                # Statistics from every row (the sample holds them all): the same each run.
                owner.execute("SET default_statistics_target = 1000")
                owner.execute("VACUUM ANALYZE graph_entities, graph_relationships")
            walk = storage.graph._walk
            compiled = walk._statement("out", False).compile(
                dialect=psycopg_dialect(paramstyle="numeric_dollar")
            )
            start = next(e["entity_id"] for e in entities if e["version"] == 7)
            now = datetime.now(UTC)
            values = compiled.construct_params(
                {"start": start, "depth": 4, "as_of": now, "known_at": now}
            )
            args = [values[name] for name in compiled.positiontup or ()]
            reached = len(storage.graph.neighbors(start, 4).nodes)
        assert len(edges) > 3 * 12000, "most edges have several versions"
        assert reached > 100, "the walk goes deep enough to tell plans apart"
        with psycopg.connect(settings.pg_url, autocommit=True) as app:
            cur = psycopg.ClientCursor(app)
            cur.execute("SELECT set_config('app.tenant_id', %s, false)", [unique_tenant])
            for name, value in walk.settings.items():
                cur.execute("SELECT set_config(%s, %s, false)", [name, value])
            cur.execute(f"PREPARE walk AS {compiled}")
            execute = f"EXECUTE walk({', '.join(['%s'] * len(args))})"
            for _ in range(5):
                cur.execute(execute, args)
            cur.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {execute}", args)
            (plan,) = cur.fetchone() or (None,)
    scans = {
        (n["Relation Name"], n["Node Type"])
        for n in _plan_nodes(plan[0]["Plan"])
        if "Relation Name" in n
    }
    assert {relation for relation, _ in scans} == {"graph_entities", "graph_relationships"}
    assert all(kind in ("Index Scan", "Index Only Scan") for _, kind in scans), scans


# Plan nodes that read a result the statement made (the walk, the entities reached).
_RESULTS = ("CTE Scan", "Subquery Scan")


def _plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", ()):
        yield from _plan_nodes(child)
