"""Load benchmark (a script, not a test): many runtimes over a few tenants sharing one PostgreSQL.

    python benchmarks/load_bench.py [--runtimes 32] [--tenants 4] [--duration 600]
                                    [--pool-min 1] [--pool-max 2] [--json]

Each runtime is what one kernel holds: its own storage (its own connection pool) for its tenant,
running mixed work in a loop (state, episodic memory, RAG retrieval, artifacts, events,
workflow records) until the duration is over. Every row a runtime reads back carries the
tenant that wrote it, so a row of another tenant is counted (it must be 0). Reported:
throughput, p50/p99 per kind of work, pool waits (psycopg_pool's own counters), errors,
cross-tenant rows, and the pool settings and server `max_connections` used.

PostgreSQL is the embedded server (temp dir) or LLMSPELL_BENCH_PG_URL's, as storage_bench.py.
Bounded: everything runs on loopback and stops at the duration.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from psycopg_pool import ConnectionPool

from llmspell.storage import SqlStorage, StorageSettings, open_storage
from llmspell.storage.components.artifacts import NewArtifact
from llmspell.storage.components.vectors import NewVector
from llmspell.storage.components.workflow_state import WorkflowExecution

DIMENSION = 384
WORDS = ("river", "mountain", "harbor", "forest", "desert", "glacier", "valley", "island")
KINDS = ("state", "memory", "rag", "artifacts", "events", "workflows")


@dataclass
class RuntimeTally:
    """What one runtime saw."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    cross_tenant_rows: int = 0
    first_error: str = ""


@contextmanager
def recorded_pools() -> Iterator[list[ConnectionPool[Any]]]:
    """Every pool the storages open meanwhile, to read psycopg_pool's `get_stats()`: the
    storage keeps its pool private, so the benchmark wraps the function that opens it."""
    from unittest import mock

    from llmspell.storage.postgres.pool import open_pool

    pools: list[ConnectionPool[Any]] = []

    def recording(url: str, **options: Any) -> ConnectionPool[Any]:
        pool = open_pool(url, **options)
        pools.append(pool)
        return pool

    with mock.patch("llmspell.storage.postgres.backend.open_pool", recording):
        yield pools


def work(
    storage: SqlStorage, tenant: str, runtime: int, rng: np.random.Generator
) -> dict[str, Callable[[int], int]]:
    """The mixed work of one runtime: each callable does one unit and returns how many rows
    it read back that belong to another tenant."""
    marker = {"tenant": tenant}
    now = datetime.now(UTC)

    def vector() -> np.ndarray:
        v = rng.standard_normal(DIMENSION).astype(np.float32)
        return v / np.linalg.norm(v)

    def state(i: int) -> int:
        storage.kv.put("load", f"r{runtime}-k{i % 50}", {**marker, "i": i})
        value = storage.kv.get("load", f"r{runtime}-k{i % 50}")
        keys = storage.kv.list_keys("load")
        values = [storage.kv.get("load", key) for key in keys[:5]]
        return sum(1 for v in [value, *values] if v is not None and v.get("tenant") != tenant)

    def memory(i: int) -> int:
        word = WORDS[i % len(WORDS)]
        storage.vectors.add(
            "episodic",
            "load-model",
            [NewVector(vector(), f"r{runtime} remembers the {word}", metadata=marker)],
        )
        hits = storage.vectors.search("episodic", "load-model", vector(), 5)
        return sum(1 for h in hits if h.record.metadata.get("tenant") != tenant)

    def rag(i: int) -> int:
        word = WORDS[i % len(WORDS)]
        if i % 10 == 0:
            storage.vectors.add(
                "rag",
                "load-model",
                [NewVector(vector(), f"document about the {word} {i}", metadata=marker)],
            )
        hits = storage.vectors.search("rag", "load-model", vector(), 5)
        hits += storage.vectors.keyword_search("rag", [word], 5)
        return sum(1 for h in hits if h.record.metadata.get("tenant") != tenant)

    def artifacts(i: int) -> int:
        session = f"r{runtime}-s{i // 100}"  # a new session every 100 units; the old one goes
        if i % 100 == 0 and i:
            storage.artifacts.delete_session(f"r{runtime}-s{i // 100 - 1}")
        body = f"{tenant} artifact {i} ".encode() * 20
        record = storage.artifacts.store(
            NewArtifact(session, f"a{i % 20}.txt", "text", metadata=marker), body
        )
        read = storage.artifacts.read(session, record.sequence)
        listed = storage.artifacts.list(session)
        wrong = 0 if read == body else 1
        return wrong + sum(1 for a in listed[-5:] if a.metadata.get("tenant") != tenant)

    def events(i: int) -> int:
        storage.events.append("load.tick", {**marker, "i": i})
        found = storage.events.query(event_type="load.tick", since=now, limit=10)
        return sum(1 for e in found if e.data.get("tenant") != tenant)

    def workflows(i: int) -> int:
        execution_id = str(uuid.uuid4())
        started = datetime.now(UTC)
        storage.workflow_state.create_execution(
            WorkflowExecution(
                execution_id, f"{tenant}-flow", "sequential", "running", marker, started, started
            )
        )
        storage.workflow_state.update_execution(
            execution_id, "completed", datetime.now(UTC), finished_at=datetime.now(UTC)
        )
        listed = storage.workflow_state.list_executions(limit=5)
        return sum(1 for e in listed if e.workflow_name != f"{tenant}-flow")

    return {
        "state": state,
        "memory": memory,
        "rag": rag,
        "artifacts": artifacts,
        "events": events,
        "workflows": workflows,
    }


def run_runtime(
    settings: StorageSettings, tenant: str, runtime: int, deadline: float, tally: RuntimeTally
) -> None:
    rng = np.random.default_rng(runtime)
    with open_storage(settings, tenant) as storage:
        units = work(storage, tenant, runtime, rng)
        i = 0
        while time.monotonic() < deadline:
            kind = KINDS[(i + runtime) % len(KINDS)]
            started = time.perf_counter()
            try:
                tally.cross_tenant_rows += units[kind](i)
            except Exception as exc:  # counted and reported; the load goes on
                tally.errors[kind] += 1
                tally.first_error = tally.first_error or f"{kind}: {exc}"
            else:
                tally.latencies[kind].append((time.perf_counter() - started) * 1000.0)
            i += 1


def run(
    settings: StorageSettings, runtimes: int = 32, tenants: int = 4, duration: float = 600.0
) -> dict[str, Any]:
    """Run the load and return the figures (also what `--json` prints)."""
    if runtimes < 1 or tenants < 1 or tenants > runtimes:
        raise ValueError(
            f"load_bench: need 1 <= tenants <= runtimes, got {tenants} tenants, {runtimes} runtimes"
        )
    if not 0 < duration <= 3600:
        raise ValueError(f"load_bench: duration must be 0-3600 s, got {duration}")
    max_connections = server_max_connections(settings)
    needed = runtimes * settings.pg_pool_max
    if needed > max_connections - 3:
        raise ValueError(
            f"load_bench: {runtimes} runtimes x pool_max {settings.pg_pool_max} = {needed} "
            f"connections, more than the server's max_connections {max_connections} leaves "
            "(3 are reserved for superusers); lower --pool-max or raise max_connections"
        )
    suffix = uuid.uuid4().hex[:6]
    names = [f"load-{suffix}-t{n}" for n in range(tenants)]
    tallies = [RuntimeTally() for _ in range(runtimes)]
    prepare_tenants(settings, names)
    with recorded_pools() as pools:
        deadline = time.monotonic() + duration
        started = time.perf_counter()
        threads = [
            threading.Thread(
                target=run_runtime,
                args=(settings, names[r % tenants], r, deadline, tallies[r]),
                name=f"runtime-{r}",
            )
            for r in range(runtimes)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        stats = [pool.get_stats() for pool in pools]
    return report(settings, runtimes, tenants, elapsed, tallies, stats, max_connections)


def prepare_tenants(settings: StorageSettings, names: list[str]) -> None:
    """Each tenant's vector namespaces, as a deployed tenant has them. (Two runtimes adding
    the first vector of one namespace at the same moment can both find no namespace row on
    PostgreSQL, and one then fails with a UniqueViolation: a race of the vectors store, not
    of load.)"""
    rng = np.random.default_rng(0)
    for tenant in names:
        with open_storage(settings, tenant) as storage:
            for namespace in ("episodic", "rag"):
                v = rng.standard_normal(DIMENSION).astype(np.float32)
                storage.vectors.add(
                    namespace,
                    "load-model",
                    [NewVector(v / np.linalg.norm(v), "first note", metadata={"tenant": tenant})],
                )


def server_max_connections(settings: StorageSettings) -> int:
    from llmspell.storage.postgres.urls import connect

    with connect(settings.pg_url) as conn:
        row = conn.execute("SHOW max_connections").fetchone()
    return int(row[0]) if row else 100


def report(
    settings: StorageSettings,
    runtimes: int,
    tenants: int,
    elapsed: float,
    tallies: list[RuntimeTally],
    pool_stats: list[dict[str, int]],
    max_connections: int,
) -> dict[str, Any]:
    kinds: dict[str, Any] = {}
    every: list[float] = []
    for kind in KINDS:
        samples = [x for t in tallies for x in t.latencies.get(kind, [])]
        every.extend(samples)
        kinds[kind] = {
            "operations": len(samples),
            "errors": sum(t.errors.get(kind, 0) for t in tallies),
            "p50_ms": float(np.percentile(samples, 50)) if samples else None,
            "p99_ms": float(np.percentile(samples, 99)) if samples else None,
        }
    return {
        "runtimes": runtimes,
        "tenants": tenants,
        "duration_s": round(elapsed, 2),
        "pool": {
            "min_size": settings.pg_pool_min,
            "max_size": settings.pg_pool_max,
            "pools": len(pool_stats),
            "server_max_connections": max_connections,
        },
        "operations": len(every),
        "throughput_ops_s": len(every) / elapsed if elapsed > 0 else 0.0,
        "p50_ms": float(np.percentile(every, 50)) if every else None,
        "p99_ms": float(np.percentile(every, 99)) if every else None,
        "pool_waits": sum(s.get("requests_queued", 0) for s in pool_stats),
        "pool_wait_ms": sum(s.get("requests_wait_ms", 0) for s in pool_stats),
        "pool_requests": sum(s.get("requests_num", 0) for s in pool_stats),
        "errors": sum(sum(t.errors.values()) for t in tallies),
        "first_error": next((t.first_error for t in tallies if t.first_error), ""),
        "cross_tenant_rows": sum(t.cross_tenant_rows for t in tallies),
        "kinds": kinds,
    }


def print_report(figures: dict[str, Any]) -> None:
    pool = figures["pool"]
    print(
        f"load: {figures['runtimes']} runtimes over {figures['tenants']} tenants for "
        f"{figures['duration_s']} s"
    )
    print(
        f"pool: min_size {pool['min_size']}, max_size {pool['max_size']} per runtime "
        f"({pool['pools']} pools; server max_connections {pool['server_max_connections']})"
    )
    print(
        f"throughput: {figures['throughput_ops_s']:.1f} units/s ({figures['operations']} units), "
        f"p50 {figures['p50_ms']:.2f} ms, p99 {figures['p99_ms']:.2f} ms"
    )
    print(
        f"pool waits: {figures['pool_waits']} of {figures['pool_requests']} requests "
        f"({figures['pool_wait_ms']} ms waited in all)"
    )
    print(
        f"errors: {figures['errors']}"
        + (f" (first: {figures['first_error']})" if figures["first_error"] else "")
    )
    print(f"cross-tenant rows seen: {figures['cross_tenant_rows']}")
    for kind, k in figures["kinds"].items():
        if k["operations"]:
            print(
                f"  {kind:<10} {k['operations']:>7} units  p50 {k['p50_ms']:8.2f} ms  "
                f"p99 {k['p99_ms']:8.2f} ms  errors {k['errors']}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runtimes", type=int, default=32)
    parser.add_argument("--tenants", type=int, default=4)
    parser.add_argument("--duration", type=float, default=600.0, help="seconds (default 600)")
    parser.add_argument("--pool-min", type=int, default=1)
    parser.add_argument("--pool-max", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from storage_bench import postgres_logins

    with postgres_logins() as logins:
        settings = StorageSettings(
            backend="postgres",
            pg_url=logins.app_url,
            pg_admin_url=logins.owner_url,
            auto_upgrade=False,
            pg_pool_min=args.pool_min,
            pg_pool_max=args.pool_max,
        )
        figures = run(settings, args.runtimes, args.tenants, args.duration)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print_report(figures)


if __name__ == "__main__":
    main()
