"""`storage benchmark`: latency percentiles and throughput of the stores' common operations,
each beside the raw driver (sqlite3 / psycopg) doing the same statement in the same run.

The raw figure is the floor: one statement on one connection, no tenant setting, no value
checks, no SQLAlchemy. SQLite and memory run on a scratch database; PostgreSQL runs on the
configured database as a tenant of its own, whose rows are deleted afterwards, and the raw
driver on tables of the same shape the owner creates for the run and drops after it.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text

from llmspell.storage import registry
from llmspell.storage.backend import backend_for
from llmspell.storage.settings import BACKENDS, StorageSettings
from llmspell.storage.sql_storage import SqlStorage, open_storage

from .bench_drivers import DIMENSION, PostgresDriver, RawDriver, SqliteDriver
from .every_tenant import require_owner

DEFAULT_OPERATIONS = 500
K = 10
MAX_OPERATIONS = 1_000_000


@dataclass(frozen=True)
class OperationResult:
    """One operation's figures (milliseconds, operations per second) and the raw driver's."""

    operation: str
    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    throughput: float
    raw_p50_ms: float
    raw_p95_ms: float
    raw_p99_ms: float
    raw_throughput: float
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def benchmark(
    settings: StorageSettings, backend: str | None = None, operations: int = DEFAULT_OPERATIONS
) -> list[OperationResult]:
    """Measure state, sessions, vectors (with recall@10 against exact search), graph, events
    and RAG retrieval on `backend` (default: the configured one), `operations` times each."""
    if backend is not None and backend not in BACKENDS:
        raise ValueError(
            f"benchmark: backend {backend!r} is not supported; allowed: {', '.join(BACKENDS)}"
        )
    if isinstance(operations, bool) or not isinstance(operations, int):
        raise ValueError(f"benchmark: operations must be a whole number, got {operations!r}")
    if not 1 <= operations <= MAX_OPERATIONS:
        raise ValueError(f"benchmark: operations must be 1-{MAX_OPERATIONS:,}, got {operations}")
    name = backend or settings.backend
    if name == "postgres":
        require_owner(
            settings.with_changes(backend=name, component_backends={}),
            "benchmark",
            "it creates the raw driver's tables and removes its tenant's rows",
        )
    with (
        _scratch(settings, name) as (bench_settings, tenant, raw),
        open_storage(bench_settings, tenant) as storage,
    ):
        return _run(storage, raw, operations)


@contextmanager
def _scratch(
    settings: StorageSettings, backend: str
) -> Iterator[tuple[StorageSettings, str, RawDriver]]:
    tenant = f"llmspell-benchmark-{uuid.uuid4().hex[:8]}"
    changed = settings.with_changes(backend=backend, component_backends={})
    if backend != "postgres":
        with tempfile.TemporaryDirectory(prefix="llmspell-benchmark-") as folder:
            path = str(Path(folder) / "bench.db")
            bench = changed.with_changes(sqlite_path=path)
            raw = SqliteDriver(path if backend == "sqlite" else ":memory:")
            try:
                yield bench, tenant, raw
            finally:
                raw.close()
        return
    raw_pg = PostgresDriver(_owner_url(changed), tenant.rsplit("-", 1)[1])
    try:
        yield changed, tenant, raw_pg
    finally:
        raw_pg.close()
        _delete_tenant(changed, tenant)


def _owner_url(settings: StorageSettings) -> str:
    if settings.pg_embedded:
        from llmspell.storage.postgres import embedded

        return embedded.start(settings.pg_data_dir).owner_url
    return settings.admin_url


def _delete_tenant(settings: StorageSettings, tenant: str) -> None:
    """Remove the benchmark tenant's rows, as the owner under that tenant's policy."""
    backend = backend_for("postgres")
    with backend.owner(settings, create=False) as owner, owner.engine.begin() as conn:
        conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": tenant})
        quote = conn.dialect.identifier_preparer.quote
        # Children before parents (artifacts before their content rows).
        for table in reversed(registry.metadata().sorted_tables):
            conn.execute(text(f"DELETE FROM {quote(table.name)}"))


# --- measuring -----------------------------------------------------------------------------


def _timed(count: int, operation: Callable[[int], Any]) -> tuple[np.ndarray, float]:
    """Per-call latencies (ms) of `operation(i)` for i in range(count), and calls per second."""
    latencies = np.empty(count)
    started = time.perf_counter()
    for i in range(count):
        before = time.perf_counter()
        operation(i)
        latencies[i] = (time.perf_counter() - before) * 1000.0
    elapsed = time.perf_counter() - started
    return latencies, count / elapsed if elapsed > 0 else float("inf")


def _result(
    name: str,
    count: int,
    store: Callable[[int], Any],
    raw: Callable[[int], Any],
    note: str = "",
) -> OperationResult:
    ours, ours_rate = _timed(count, store)
    theirs, raw_rate = _timed(count, raw)
    a = np.percentile(ours, [50, 95, 99])
    b = np.percentile(theirs, [50, 95, 99])
    return OperationResult(
        name,
        count,
        float(a[0]),
        float(a[1]),
        float(a[2]),
        ours_rate,
        float(b[0]),
        float(b[1]),
        float(b[2]),
        raw_rate,
        note,
    )


WORDS = ("river", "mountain", "harbor", "forest", "desert", "glacier", "valley", "island")


def _run(storage: SqlStorage, raw: RawDriver, n: int) -> list[OperationResult]:
    from llmspell.storage.components.sessions import SessionRecord
    from llmspell.storage.components.vectors import NewVector

    rng = np.random.default_rng(42)
    value = {"text": "x" * 100, "n": 1}
    body = json.dumps(value)
    results = [
        _result(
            "state.put",
            n,
            lambda i: storage.kv.put("bench", f"k{i}", value),
            lambda i: raw.put(f"k{i}", body),
        ),
        _result(
            "state.get",
            n,
            lambda i: storage.kv.get("bench", f"k{i}"),
            lambda i: raw.get(f"k{i}"),
        ),
    ]
    now = datetime.now(UTC)

    def create_session(i: int) -> None:
        storage.sessions.create(
            SessionRecord(str(uuid.uuid4()), f"s{i}", None, (), "active", None, {}, now, now)
        )

    results.append(
        _result("sessions.create", n, create_session, lambda i: raw.insert_row(f"s{i}", body))
    )
    entities: list[str] = []
    results.append(
        _result(
            "graph.add_entity",
            n,
            lambda i: entities.append(storage.graph.add_entity(f"e{i}", "thing", value)),
            lambda i: raw.insert_row(f"e{i}", body),
        )
    )

    # One edge out of every entity, to one 7 further on: a walk of depth 3 reaches 3 entities.
    def far(i: int) -> int:
        return (i * 7 + 1) % n

    results.append(
        _result(
            "graph.add_relationship",
            n,
            lambda i: storage.graph.add_relationship(entities[i], entities[far(i)], "link", {}),
            lambda i: raw.insert_edge(f"r{i}", f"e{i}", f"e{far(i)}"),
        )
    )
    results.append(
        _result(
            "graph.neighbors",
            n,
            lambda i: storage.graph.neighbors(entities[i], 3),
            lambda i: raw.reach(f"e{i}", 3),
            "depth 3",
        )
    )
    for i in range(min(n, 20)):  # the two walks measured are the same walk
        walked = sorted(e.name for e, _ in storage.graph.neighbors(entities[i], 3).nodes)
        if walked != sorted(raw.reach(f"e{i}", 3)):
            raise RuntimeError(f"graph.neighbors and the raw walk differ from e{i}")
    results.append(
        _result(
            "events.append",
            n,
            lambda i: storage.events.append("bench.event", value),
            lambda i: raw.insert_row(f"v{i}", body),
        )
    )
    embeddings = rng.standard_normal((n, DIMENSION)).astype(np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    contents = [f"note {i} about the {WORDS[i % len(WORDS)]}" for i in range(n)]
    ids = [f"d{i}" for i in range(n)]
    results.append(
        _result(
            "vectors.add",
            n,
            lambda i: storage.vectors.add(
                "bench", "bench-model", [NewVector(embeddings[i], contents[i], id=ids[i])]
            ),
            lambda i: raw.insert_vector(ids[i], contents[i], embeddings[i]),
        )
    )
    # Both sides index what they stored before they are searched (PostgreSQL defers the HNSW
    # upkeep of a write; untimed here, as a bulk load would do it).
    storage.vectors.index_now()
    raw.index_vectors()
    queries = rng.standard_normal((n, DIMENSION)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    exact = np.argsort(-(queries @ embeddings.T), axis=1)[:, :K]
    found: list[set[str]] = []

    def search(i: int) -> None:
        hits = storage.vectors.search("bench", "bench-model", queries[i], K)
        found.append({hit.record.id for hit in hits})

    search_result = _result("vectors.search", n, search, lambda i: raw.nearest(queries[i], K))
    recall = float(
        np.mean(
            [len(got & {ids[j] for j in exact[i]}) / min(K, n) for i, got in enumerate(found[:n])]
        )
    )
    results.append(
        OperationResult(**{**search_result.as_dict(), "note": f"recall@{K} {recall:.3f}"})
    )

    def retrieve(i: int) -> None:
        storage.vectors.search("bench", "bench-model", queries[i], K)
        storage.vectors.keyword_search("bench", [WORDS[i % len(WORDS)]], K)

    def raw_retrieve(i: int) -> None:
        raw.nearest(queries[i], K)
        raw.keyword(WORDS[i % len(WORDS)], K)

    results.append(
        _result("rag.retrieve", n, retrieve, raw_retrieve, "vector + keyword search, k=10")
    )
    return results
