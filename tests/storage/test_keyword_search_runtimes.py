"""Keyword search through the vectors store, whose index lives in each runtime's process: a
second runtime's writes on the same database (SQLite file, PostgreSQL as the app role) reach
the first runtime's next search, tenants never see each other's rows or statistics, and on
SQLite the ranking is the database's own FTS5 `bm25()` over the same rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from llmspell.storage import SqlStorage, StorageSettings, open_storage
from llmspell.storage.components.vectors import NewVector, VectorFilter

DIM = 384


def unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
    return vector / np.linalg.norm(vector)


def add(storage: SqlStorage, texts: dict[str, str]) -> None:
    storage.vectors.add(
        "ns", "m", [NewVector(unit(i), body, id=vid) for i, (vid, body) in enumerate(texts.items())]
    )


def found(
    storage: SqlStorage,
    words: list[str],
    where: VectorFilter | None = None,
    ids: list[str] | None = None,
) -> list[str]:
    return [hit.record.id for hit in storage.vectors.keyword_search("ns", words, 10, where, ids)]


@pytest.fixture(params=["sqlite", "postgres"])
def runtimes(
    request: pytest.FixtureRequest, tmp_path: Path, unique_tenant: str
) -> tuple[SqlStorage, SqlStorage]:
    """Two storages of one tenant opened separately (as two runtimes do) on one database."""
    if request.param == "postgres":
        settings: StorageSettings = request.getfixturevalue("pg_settings")
    else:
        settings = StorageSettings(backend="sqlite", sqlite_path=str(tmp_path / "shared.db"))
    first, second = open_storage(settings, unique_tenant), open_storage(settings, unique_tenant)
    request.addfinalizer(first.close)
    request.addfinalizer(second.close)
    return first, second


def test_a_second_runtimes_writes_reach_the_first_runtimes_next_keyword_search(
    runtimes: tuple[SqlStorage, SqlStorage],
) -> None:
    first, second = runtimes
    add(first, {"a": "harbour ferry timetable", "b": "ferry tickets and invoices"})
    assert found(first, ["ferry"]) == ["a", "b"]  # the first runtime's index is built now

    add(second, {"c": "the night ferry ferry ferry"})
    assert found(first, ["ferry"]) == ["c", "a", "b"]

    add(second, {"c": "a bus instead"})  # same id: the content is replaced
    assert found(first, ["ferry"]) == ["a", "b"]
    assert found(first, ["bus"]) == ["c"]

    second.vectors.set_metadata("ns", {"b": {"kind": "billing"}})
    assert found(first, ["ferry"], where=VectorFilter(metadata={"kind": "billing"})) == ["b"]

    assert second.vectors.delete(["a"]) == 1
    assert found(first, ["ferry", "harbour"]) == ["b"]

    second.vectors.set_expiry("ns", datetime.now(UTC) - timedelta(seconds=1))
    assert found(first, ["ferry", "bus"]) == []

    add(second, {"d": "ferry again"})
    second.vectors.delete_namespace("ns")
    assert found(first, ["ferry"]) == []


def test_the_first_runtimes_own_writes_and_a_seconds_interleave(
    runtimes: tuple[SqlStorage, SqlStorage],
) -> None:
    first, second = runtimes
    add(first, {"a": "storm warning"})
    assert found(first, ["storm"]) == ["a"]
    add(second, {"b": "storm storm"})
    add(first, {"c": "storm storm storm"})  # the first runtime missed b: it must not drop it
    assert found(first, ["storm"]) == ["c", "b", "a"]
    assert found(second, ["storm"]) == ["c", "b", "a"]
    scores = [h.score for h in first.vectors.keyword_search("ns", ["storm"], 3)]
    assert scores == [h.score for h in second.vectors.keyword_search("ns", ["storm"], 3)]


def test_tenants_never_see_each_others_rows_or_change_each_others_scores(
    tenant_pair: tuple[SqlStorage, SqlStorage],
) -> None:
    a, b = tenant_pair
    add(a, {"a1": "budget contract payment", "a2": "contract maintenance"})
    before = [(h.record.id, h.score) for h in a.vectors.keyword_search("ns", ["contract"], 10)]
    add(b, {f"b{i}": "contract contract secret" for i in range(20)})
    add(b, {"b-only": "turnstile secret"})
    assert found(a, ["secret", "turnstile"]) == []
    assert found(a, ["contract"], ids=["b1", "a2"]) == ["a2"]
    after = [(h.record.id, h.score) for h in a.vectors.keyword_search("ns", ["contract"], 10)]
    assert after == before  # b's rows are not part of a's corpus statistics either
    assert found(b, ["turnstile"]) == ["b-only"]
    assert {vid[0] for vid in found(b, ["contract"])} == {"b"}
    assert found(b, ["budget", "maintenance"]) == []


def test_on_sqlite_the_ranking_is_the_databases_fts5_bm25(tmp_path: Path) -> None:
    storage = open_storage(
        StorageSettings(backend="sqlite", sqlite_path=str(tmp_path / "fts.db")), "t"
    )
    try:
        rng = np.random.default_rng(5)
        words = ["ferry", "harbour", "ticket", "storm", "budget", "route", "engine", "payments"]
        texts = {
            f"v{i:03d}": " ".join(rng.choice(words, size=int(rng.integers(1, 25))))
            for i in range(200)
        }
        for start in range(0, 200, 50):
            add(storage, dict(list(texts.items())[start : start + 50]))
        for query in (["ferry"], ["storm", "payment"], ["route", "engine", "harbour"]):
            with storage.database("vectors").transaction() as conn:
                expected = conn.execute(
                    text(
                        "SELECT t.id, -bm25(vectors_384_fts) AS score FROM vectors_384_fts "
                        "JOIN vectors_384 t ON t.rowid = vectors_384_fts.rowid "
                        "WHERE vectors_384_fts MATCH :m ORDER BY score DESC, t.id LIMIT 10"
                    ),
                    {"m": " OR ".join(f'"{w}"' for w in query)},
                ).all()
            hits = storage.vectors.keyword_search("ns", query, 10)
            assert [h.record.id for h in hits] == [vid for vid, _ in expected]
            for hit, (_, score) in zip(hits, expected, strict=True):
                assert hit.score == pytest.approx(score, rel=1e-9)
    finally:
        storage.close()


def test_own_deletes_leave_the_index_scoring_as_one_built_afresh(
    runtimes: tuple[SqlStorage, SqlStorage],
) -> None:
    first, second = runtimes
    texts = ["storm storm", "storm warning", "calm sea", "storm at sea", "sea sea sea"]
    first.vectors.add(
        "ns",
        "m",
        [
            NewVector(unit(i), body, id=f"v{i}", document_id=f"d{i % 2}")
            for i, body in enumerate(texts)
        ],
    )
    assert found(first, ["storm"]) == ["v0", "v1", "v3"]  # the first runtime's index is built
    assert first.vectors.delete(["v0"]) == 1
    first.vectors.add("ns", "m", [], replace_documents={"d1"})  # drops v1 and v3

    def ranking(storage: SqlStorage) -> list[tuple[str, float]]:
        hits = storage.vectors.keyword_search("ns", ["storm", "sea"], 10)
        return [(hit.record.id, hit.score) for hit in hits]

    assert [vid for vid, _ in ranking(first)] == ["v4", "v2"]
    assert ranking(first) == ranking(second)  # the second runtime builds its index now
