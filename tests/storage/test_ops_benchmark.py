"""`storage.ops.benchmark`: every operation measured beside the raw driver on every backend;
PostgreSQL's benchmark tenant leaves no row behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from llmspell.storage import StorageSettings, open_storage, registry
from llmspell.storage.ops.benchmark import benchmark
from llmspell.storage.ops.every_tenant import every_tenant

OPERATIONS = [
    "state.put",
    "state.get",
    "sessions.create",
    "graph.add_entity",
    "graph.add_relationship",
    "graph.neighbors",
    "events.append",
    "vectors.add",
    "vectors.search",
    "rag.retrieve",
]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> StorageSettings:
    if request.param == "postgres":
        pg: StorageSettings = request.getfixturevalue("pg_settings")
        return pg
    # The configured file must stay untouched: the benchmark runs on a scratch database.
    return StorageSettings(backend=request.param, sqlite_path=str(tmp_path / "mine.db"))


def test_each_operation_has_percentiles_throughput_and_the_raw_figure(
    settings: StorageSettings, tmp_path: Path
) -> None:
    results = benchmark(settings, operations=20)
    assert [r.operation for r in results] == OPERATIONS
    for r in results:
        assert r.count == 20
        assert 0 < r.p50_ms <= r.p95_ms <= r.p99_ms
        assert 0 < r.raw_p50_ms <= r.raw_p95_ms <= r.raw_p99_ms
        assert r.throughput > 0 and r.raw_throughput > 0
    [search] = [r for r in results if r.operation == "vectors.search"]
    recall = float(search.note.removeprefix("recall@10 "))
    # 20 vectors: the HNSW graph is small enough to be exact; SQLite searches exactly anyway.
    assert recall == 1.0
    assert not (tmp_path / "mine.db").exists()


def test_the_postgres_benchmark_tenant_leaves_no_rows(pg_settings: StorageSettings) -> None:
    benchmark(pg_settings, operations=5)
    with open_storage(pg_settings, "t-bench-check") as storage:
        for component in registry.components():
            with every_tenant(storage, component.name, component.tables) as conn:
                for table in component.tables:
                    left = conn.execute(
                        text(
                            f"SELECT count(*) FROM {table.name} "
                            "WHERE tenant_id LIKE 'llmspell-benchmark-%'"
                        )
                    ).scalar()
                    assert left == 0, table.name
        with every_tenant(storage, "kv", ()) as conn:
            tables = conn.execute(
                text("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'llmspell_bench_%'")
            ).scalar()
        assert tables == 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"operations": 0}, "benchmark: operations must be 1-1,000,000, got 0"),
        ({"operations": "5"}, "benchmark: operations must be a whole number, got '5'"),
        ({"backend": "mysql"}, "benchmark: backend 'mysql' is not supported; allowed: sqlite"),
    ],
)
def test_bad_options_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        benchmark(StorageSettings(backend="memory"), **options)  # type: ignore[arg-type]
