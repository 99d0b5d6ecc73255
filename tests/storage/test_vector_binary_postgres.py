"""Embeddings travel to and from PostgreSQL in pgvector's binary format: every pooled
connection (and the owner's) has pgvector's psycopg adapters, the store hands psycopg numpy
arrays (HalfVector for halfvec columns), and what comes back is the float32 that went in."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pgvector import HalfVector
from psycopg.adapt import PyFormat
from psycopg.pq import Format
from sqlalchemy import event

from llmspell.storage import SqlStorage, StorageSettings, open_storage
from llmspell.storage.components.vectors import NewVector
from llmspell.storage.postgres.backend import owner_engine

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_storage(pg_settings: StorageSettings, unique_tenant: str) -> Any:
    storage = open_storage(pg_settings, unique_tenant)
    yield storage
    storage.close()


def sent_embeddings(storage: SqlStorage, run: Any) -> list[tuple[Any, Format]]:
    """(embedding parameter, format psycopg sends it in) of the INSERTs `run` makes."""
    engine = storage.database("vectors").engine
    seen: list[tuple[Any, Format]] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, _: Any, many: bool) -> None:
        if statement.startswith("INSERT INTO vectors_"):
            for row in params if many else [params]:
                dumper = cursor.adapters.get_dumper(type(row["embedding"]), PyFormat.AUTO)
                seen.append((row["embedding"], dumper.format))

    event.listen(engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


@pytest.mark.parametrize(("dimension", "kind"), [(384, np.ndarray), (3072, HalfVector)])
def test_embeddings_are_sent_in_binary_and_read_back_as_float32(
    pg_storage: SqlStorage, dimension: int, kind: type
) -> None:
    rng = np.random.default_rng(dimension)
    vectors = rng.normal(size=(3, dimension)).astype(np.float32)
    ids: list[str] = []
    new = [NewVector(v, f"v{i}") for i, v in enumerate(vectors)]
    sent = sent_embeddings(pg_storage, lambda: ids.extend(pg_storage.vectors.add("n", "m", new)))
    assert len(sent) == 3
    assert all(isinstance(value, kind) and fmt == Format.BINARY for value, fmt in sent)
    stored = sorted(pg_storage.vectors.get(ids, with_embeddings=True), key=lambda r: r.content)
    assert [r.content for r in stored] == ["v0", "v1", "v2"]
    for record, vector in zip(stored, vectors, strict=True):
        assert record.embedding is not None and record.embedding.dtype == np.float32
        if kind is np.ndarray:
            assert np.array_equal(record.embedding, vector)
        else:  # halfvec keeps float16
            assert np.allclose(record.embedding, vector, atol=2e-3 * np.abs(vector).max())
    [hit] = pg_storage.vectors.search("n", "m", vectors[1], 1)
    assert hit.record.content == "v1" and hit.score == pytest.approx(1.0, abs=1e-3)


def test_the_owner_connection_has_the_vector_adapters_too(pg_settings: StorageSettings) -> None:
    engine = owner_engine(pg_settings.pg_admin_url)
    try:
        with engine.connect() as conn:
            driver: Any = conn.connection.driver_connection
            dumper = driver.adapters.get_dumper(np.ndarray, PyFormat.AUTO)
            assert dumper.format == Format.BINARY
    finally:
        engine.dispose()
