"""Graph walk on a graph with history (a script, not a test): plans and p50 of `neighbors`
depth 4 (out) on PostgreSQL and SQLite, on the memory benchmark's graph (one version of every
entity and edge) and on a bi-temporal one where most entities and edges were changed or closed.

    python benchmarks/graph_history_bench.py [--backend sqlite|postgres ...] [--entities V]
                                             [--edges M] [--runs R] [--changed F] [--json]

The history: a share F (default 0.7) of the entities and of the edges changed 1-3 times at
distinct valid and transaction times (each change supersedes the open version and re-records
the closed part, as the store does), a tenth of those closed later; so `valid_to` and
`superseded_at` take many distinct values, as real use makes them. After ANALYZE (what
autovacuum does after a bulk load) the script prints, per data set, the plans PostgreSQL picks
for the walk as the app role under row-level security with the walk's own settings, for a
statement's first and sixth execution (how each table is read, the plan's cost, buffers), the
p50 of the walk, and the p50 of the first five walks on a new connection (what a short script
sees), against a breadth-first search over an in-memory adjacency list of the valid edges (the
baseline, same run). Bulk data is loaded with plain INSERT.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).parent))
from memory_bench import bfs
from storage_bench import postgres_logins, timed

from llmspell.storage import SqlStorage, StorageSettings, open_storage
from llmspell.storage.components.graph import graph_entities, graph_relationships

SINCE = datetime(2020, 1, 1, tzinfo=UTC)
DEPTH = 4


def versions(rng: np.random.Generator, changed: float) -> list[dict[str, Any]]:
    """The period columns and version numbers of one thing's rows: one open version, or a
    history of changes (each supersedes the open version and re-records its closed part)."""
    start = SINCE + timedelta(
        seconds=int(rng.integers(0, 10**7)), microseconds=int(rng.integers(10**6))
    )
    recorded = start
    open_row = {
        "valid_from": start,
        "valid_to": None,
        "recorded_at": recorded,
        "superseded_at": None,
    }
    rows: list[dict[str, Any]] = []
    changes = int(rng.integers(1, 4)) if rng.random() < changed else 0
    closed = changes and rng.random() < 0.1
    for n in range(changes + closed):
        at = open_row["valid_from"] + timedelta(
            seconds=int(rng.integers(1, 10**7)), microseconds=int(rng.integers(10**6))
        )
        recorded = max(recorded, at) + timedelta(
            seconds=int(rng.integers(1, 10**5)), microseconds=int(rng.integers(10**6))
        )
        rows.append({**open_row, "superseded_at": recorded})
        rows.append({**open_row, "valid_to": at, "recorded_at": recorded})
        is_close = n == changes
        open_row = {
            "valid_from": at,
            "valid_to": None,
            "recorded_at": recorded,
            "superseded_at": None,
        }
        if is_close:
            open_row = None  # type: ignore[assignment]
            break
    if open_row is not None:
        rows.append(open_row)
    return [{**row, "version": v} for v, row in enumerate(rows, start=1)]  # fmt: skip


def is_open(rows: list[dict[str, Any]]) -> bool:
    return any(r["valid_to"] is None and r["superseded_at"] is None for r in rows)


def load(storage: SqlStorage, entities: int, edges: int, changed: float) -> dict[str, list[str]]:
    """The graph (seeded), and the adjacency of its valid entities by its valid edges."""
    rng = np.random.default_rng(5)
    ids = [f"e{i}" for i in range(entities)]
    sources, targets = rng.integers(0, entities, edges), rng.integers(0, entities, edges)
    tenant = storage.tenant_id
    entity_rows, edge_rows, valid = [], [], set()
    for e in ids:
        rows = versions(rng, changed)
        valid.update([e] if is_open(rows) else [])
        entity_rows += [
            {"tenant_id": tenant, "entity_id": e, "name": e, "type": "node", "properties": {}, **r}
            for r in rows
        ]
    adjacency: dict[str, list[str]] = {e: [] for e in ids}
    for n, (s, t) in enumerate(zip(sources, targets, strict=True)):
        rows = versions(rng, changed)
        if is_open(rows) and ids[t] in valid:
            adjacency[ids[s]].append(ids[t])
        edge_rows += [
            {"tenant_id": tenant, "relationship_id": f"r{n}", "from_id": ids[s], "to_id": ids[t],
             "type": "link", "properties": {}, **r}
            for r in rows
        ]  # fmt: skip
    with storage.database("graph").transaction(write=True) as conn:
        for table, rows in ((graph_entities, entity_rows), (graph_relationships, edge_rows)):
            for start in range(0, len(rows), 10000):
                conn.execute(insert(table), rows[start : start + 10000])
    return {e: nxt for e, nxt in adjacency.items() if e in valid}


def explain(storage: SqlStorage, app_url: str, start: str) -> dict[str, Any]:
    """The walk's plans as the app role with the tenant and the walk's own settings: of a
    statement's first execution on a connection, and of its sixth (PostgreSQL plans the first
    five for their values, then may keep a generic plan), each with how it reads each table,
    its cost, buffers and time in the server."""
    import psycopg
    from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect

    walk = storage.graph._walk
    compiled = walk._statement("out", False).compile(
        dialect=psycopg_dialect(paramstyle="numeric_dollar")
    )
    now = datetime.now(UTC)
    values = compiled.construct_params(
        {"start": start, "depth": DEPTH, "as_of": now, "known_at": now}
    )
    args = [values[name] for name in compiled.positiontup or ()]
    execute = f"EXECUTE walk({', '.join(['%s'] * len(args))})"
    found = {}
    with psycopg.connect(app_url, autocommit=True) as app:
        cur = psycopg.ClientCursor(app)
        cur.execute("SELECT set_config('app.tenant_id', %s, false)", [storage.tenant_id])
        for name, value in walk.settings.items():
            cur.execute("SELECT set_config(%s, %s, false)", [name, value])
        cur.execute(f"PREPARE walk AS {compiled}")
        for execution in ("first", "sixth"):
            if execution == "sixth":
                for _ in range(4):
                    cur.execute(execute, args)
            cur.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {execute}", args)
            (plan,) = cur.fetchone() or (None,)
            top = plan[0]["Plan"]
            found[f"{execution} execution"] = {
                "scans": sorted(
                    {
                        f"{n['Relation Name']}: {n['Node Type']}"
                        + (f" {n['Index Name']}" if "Index Name" in n else "")
                        for n in nodes(top)
                        if "Relation Name" in n
                    }
                ),
                "total_cost": top["Total Cost"],
                "shared_buffers": top.get("Shared Hit Blocks", 0)
                + top.get("Shared Read Blocks", 0),
                "server_ms": plan[0]["Execution Time"],
            }
    return found


def nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", ()):
        yield from nodes(child)


def run(
    settings: StorageSettings, args: argparse.Namespace, changed: float, owner_url: str
) -> dict[str, Any]:
    with open_storage(settings, f"bench-{uuid.uuid4().hex[:6]}") as storage:
        adjacency = load(storage, args.entities, args.edges, changed)
        if owner_url:
            import psycopg

            with psycopg.connect(owner_url, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE graph_entities")
                conn.execute("VACUUM ANALYZE graph_relationships")
        else:
            with storage.database("graph").transaction(write=True) as conn:
                conn.exec_driver_sql("ANALYZE")
        valid = sorted(adjacency, key=lambda e: int(e[1:]))
        starts = [valid[i * 7 % len(valid)] for i in range(args.runs)]
        sizes: list[int] = []
        samples = timed(
            lambda i: sizes.append(len(storage.graph.neighbors(starts[i], DEPTH).nodes)),
            args.runs,
            warmup=5,
        )
        baseline = timed(lambda i: bfs(adjacency, starts[i], DEPTH), args.runs, warmup=5)
        expected = [bfs(adjacency, s, DEPTH) for s in starts]
        assert sizes[-args.runs :] == expected, "the walk reaches what breadth-first search does"
        report: dict[str, Any] = {
            "depth4_p50_ms": statistics.median(samples) * 1000,
            "python_bfs_p50_ms": statistics.median(baseline) * 1000,
            "nodes_reached_median": statistics.median(expected),
        }
        with storage.database("graph").transaction() as conn:
            report["entity_rows"] = conn.exec_driver_sql(
                "SELECT count(*) FROM graph_entities"
            ).scalar()
            report["edge_rows"] = conn.exec_driver_sql(
                "SELECT count(*) FROM graph_relationships"
            ).scalar()
        if owner_url:
            report["plans"] = explain(storage, str(settings.pg_url), starts[0])
        report["first_calls_p50_ms"] = first_calls(settings, storage.tenant_id, starts)
        return report


def first_calls(settings: StorageSettings, tenant: str, starts: list[str]) -> float:
    """p50 of the first five walks on a new connection (a short script's walks: PostgreSQL
    plans a statement's first five executions for their values), over ten new connections."""
    samples: list[float] = []
    for round_ in range(10):
        with open_storage(settings, tenant) as storage:
            first = round_ * 5
            samples += timed(
                lambda i, s=storage, f=first: s.graph.neighbors(starts[f + i], DEPTH), 5, warmup=0
            )
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], action="append")
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--edges", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--changed", type=float, default=0.7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 0 <= args.changed <= 1:
        parser.error(f"--changed {args.changed}: a share, from 0 to 1")
    report: dict[str, Any] = {}
    data_sets = {"one version": 0.0, f"history ({args.changed:.0%} changed)": args.changed}
    for name in args.backend or ["sqlite", "postgres"]:
        report[name] = {}
        for data, changed in data_sets.items():
            if name == "postgres":
                with postgres_logins() as logins:
                    settings = StorageSettings(
                        backend="postgres", pg_url=logins.app_url, auto_upgrade=False, pg_pool_max=4
                    )
                    report[name][data] = run(settings, args, changed, logins.owner_url)
            else:
                with tempfile.TemporaryDirectory() as tmp:
                    settings = StorageSettings(backend="sqlite", sqlite_path=f"{tmp}/g.db")
                    report[name][data] = run(settings, args, changed, "")
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return
    print(f"graph neighbors depth {DEPTH} (out), {args.entities} entities / {args.edges} edges")
    for name, rows in report.items():
        for data, row in rows.items():
            print(
                f"  {name:8} {data:24} {row['entity_rows']:>7} / {row['edge_rows']:>7} rows: "
                f"p50 {row['depth4_p50_ms']:.2f} ms, first five on a new connection "
                f"{row['first_calls_p50_ms']:.2f} ms "
                f"(python BFS {row['python_bfs_p50_ms']:.2f} ms, "
                f"{row['nodes_reached_median']:.0f} reached)"
            )
            for mode, plan in row.get("plans", {}).items():
                print(
                    f"      {mode}: cost {plan['total_cost']:.0f}, {plan['shared_buffers']} "
                    f"buffers, {plan['server_ms']:.1f} ms in the server"
                )
                for scan in plan["scans"]:
                    print(f"        {scan}")


if __name__ == "__main__":
    main()
