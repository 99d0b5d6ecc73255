"""Tenant isolation of the memory components on PostgreSQL, as the app role (row-level security
forced): vector search (through the HNSW index under the tenant filter), graph traversal and
consolidation never reach another tenant's rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import psycopg
import pytest
from sqlalchemy import insert

from llmspell.storage import SqlStorage, StorageSettings, open_storage
from llmspell.storage.components.graph import graph_relationships
from llmspell.storage.components.vectors import (
    NewVector,
    VectorFilter,
    VectorSettings,
    hnsw_index_name,
)

# the components whose tenant isolation this module proves (tests/storage/test_components.py)
ISOLATED_COMPONENTS = ("graph", "procedural", "vectors")

pytestmark = pytest.mark.postgres
DIM = 384


def vectors(seed: int, n: int) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.fixture
def tenants(
    pg_settings: StorageSettings, unique_tenant: str
) -> Iterator[tuple[SqlStorage, SqlStorage]]:
    # Every add folds its vectors into the HNSW index before it returns: the searches below
    # go through the index, not the exact search of the un-indexed tail.
    settings = pg_settings.with_component("vectors", VectorSettings(hnsw_unindexed_max=0))
    a = open_storage(settings, f"{unique_tenant}-a")
    b = open_storage(settings, f"{unique_tenant}-b")
    yield a, b
    a.close()
    b.close()


def test_tenant_b_cannot_search_read_count_or_delete_tenant_a_vectors(
    tenants: tuple[SqlStorage, SqlStorage],
) -> None:
    a, b = tenants
    rows = vectors(1, 5)
    ids = a.vectors.add(
        "shared", "m", [NewVector(v, f"a{i}", document_id="d") for i, v in enumerate(rows)]
    )
    assert b.vectors.search("shared", "m", rows[0], 5) == []
    assert b.vectors.similarity("shared", "m", rows[0], ids) == {}
    assert b.vectors.get(ids) == []
    assert b.vectors.scan("shared") == []
    assert b.vectors.count() == 0 and b.vectors.namespaces() == []
    assert b.vectors.delete(ids) == 0
    assert b.vectors.delete_where("shared", VectorFilter(document_ids={"d"})) == 0
    assert b.vectors.delete_namespace("shared") == 0
    assert b.vectors.sweep_expired() == 0
    b.vectors.add("shared", "other-model", [NewVector(rows[0], "b's own")])
    assert a.vectors.namespace("shared").model == "m"  # type: ignore[union-attr]
    assert a.vectors.count("shared") == 5


def _plan_and_rows(
    storage: SqlStorage, statement: str, params: Any, *, force_index_order: bool
) -> tuple[str, list[Any]]:
    """EXPLAIN and run a recorded search statement as the app role for `storage`'s tenant."""
    with storage.database("vectors").engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute("SELECT set_config('app.tenant_id', %s, true)", (storage.tenant_id,))
        cursor.execute("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)")
        if force_index_order:
            # What the planner picks for a large tenant; a small one may sort a btree scan.
            cursor.execute("SELECT set_config('enable_sort', 'off', true)")
        cursor.execute("EXPLAIN " + statement, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute(statement, params)
        rows = cursor.fetchall()
        conn.rollback()
    return plan, rows


def test_hnsw_search_uses_the_index_under_the_tenant_filter_and_returns_only_own_rows(
    tenants: tuple[SqlStorage, SqlStorage],
    sql_recorder: Callable[[Any], Any],
    pg_settings: StorageSettings,
) -> None:
    a, b = tenants
    many = vectors(2, 3000)
    a.vectors.add("docs", "m", [NewVector(v, f"a{i}") for i, v in enumerate(many)])
    few = vectors(3, 20)
    b.vectors.add("docs", "m", [NewVector(v, f"b{i}") for i, v in enumerate(few)])
    with psycopg.connect(pg_settings.admin_url, autocommit=True) as owner:
        owner.execute(f"ANALYZE vectors_{DIM}")
    index = f"Index Scan using {hnsw_index_name(DIM)}"

    with sql_recorder(a.database("vectors").engine) as seen:
        hits = a.vectors.search("docs", "m", many[0], 10)
    assert hits[0].record.content == "a0" and len(hits) == 10
    [(statement, params)] = [(sql, p) for sql, p in seen if "<=>" in sql]
    plan, _ = _plan_and_rows(a, statement, params, force_index_order=False)
    assert index in plan, plan
    assert "tenant_id" in plan, "the tenant filter applies to the index scan"

    # Tenant B through the same index: the iterative scan walks past A's 3000 nearer rows
    # (invisible under RLS) until B has its 10.
    with sql_recorder(b.database("vectors").engine) as seen:
        hits = b.vectors.search("docs", "m", many[0], 10)
    assert len(hits) == 10 and all(h.record.content.startswith("b") for h in hits)
    [(statement, params)] = [(sql, p) for sql, p in seen if "<=>" in sql]
    plan, rows = _plan_and_rows(b, statement, params, force_index_order=True)
    assert index in plan, plan
    assert len(rows) == 10 and all(row[3].startswith("b") for row in rows)


def test_graph_edges_never_lead_into_another_tenant(tenants: tuple[SqlStorage, SqlStorage]) -> None:
    a, b = tenants
    secret = a.graph.add_entity("Secret", "thing", {"pin": 1234})
    mine = b.graph.add_entity("Mine", "thing", {})
    with pytest.raises(ValueError, match="no entity"):
        b.graph.add_relationship(mine, secret, "knows", {})
    # Even a row written past the store's check (tenant B's own edge naming A's entity id) is
    # not followed: traversal joins entities of the tenant only.
    with b.database("graph").transaction(write=True) as conn:
        conn.execute(
            insert(graph_relationships).values(
                tenant_id=b.tenant_id, relationship_id="forged", version=1, from_id=mine,
                to_id=secret, type="knows", properties={},
                valid_from=a.graph.get_entity(secret).valid_from,  # type: ignore[union-attr]
                recorded_at=a.graph.get_entity(secret).recorded_at,  # type: ignore[union-attr]
            )
        )  # fmt: skip
    assert b.graph.neighbors(mine, 6, "both").nodes == []
    assert b.graph.get_entity(secret) is None and not b.graph.entity_exists(secret)
    assert b.graph.find_entities(containing=["secret"]) == []
    assert b.graph.delete_entity(secret) is False
    assert a.graph.get_entity(secret).properties == {"pin": 1234}  # type: ignore[union-attr]


def test_tenant_b_cannot_see_or_change_tenant_a_procedures(
    tenants: tuple[SqlStorage, SqlStorage],
) -> None:
    a, b = tenants
    a.procedural.record("t", "a", True)
    assert b.procedural.for_trigger("t") == [] and b.procedural.count() == 0
    assert b.procedural.delete("t", "a") is False
    assert b.procedural.record("t", "a", False).successes == 0
    assert a.procedural.for_trigger("t")[0].failures == 0


def test_consolidation_of_tenant_b_never_touches_tenant_a(
    pg_config_overrides: dict[str, Any], unique_tenant: str
) -> None:
    from llmspell.runtime.config import load_config, with_overrides
    from llmspell.runtime.infrastructure import Infrastructure
    from llmspell.runtime.memory import MemoryManager

    base = load_config(env={}).config
    infras = [
        Infrastructure.from_config(
            with_overrides(
                base, {**pg_config_overrides, "tenancy.tenant_id": f"{unique_tenant}-{t}"}
            )
        )
        for t in "ab"
    ]
    try:
        ma, mb = (infra.get(MemoryManager) for infra in infras)
        ma.episodic.add("s", "user", "Alice lives in Paris.")
        report = mb.consolidate()
        assert report.entries_processed == 0
        assert len(ma.episodic.unprocessed()) == 1
        assert ma.consolidate().entities_added == 1
        assert mb.semantic.counts() == (0, 0) and mb.stats()["episodic_count"] == 0
        assert mb.delete_session_data("s") == 0
        assert ma.stats()["episodic_count"] == 1
    finally:
        for infra in infras:
            infra.close()
