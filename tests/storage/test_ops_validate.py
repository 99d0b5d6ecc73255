"""`storage.ops.validate`: each check finds the problem injected past the store's API, on every
backend where that problem can exist, and `repair` fixes what the rows determine."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from ops_helpers import fresh_pg_settings, raw
from sqlalchemy import select, text, update

from llmspell.migrations import HEAD
from llmspell.storage import SqlStorage, StorageSettings, open_storage
from llmspell.storage.components.artifacts import NewArtifact
from llmspell.storage.components.graph import graph_entities
from llmspell.storage.components.vectors import NewVector
from llmspell.storage.ops.validate import CHECK_NAMES, ValidationReport, validate
from llmspell.storage.postgres.partitions import add_months, month_start

TENANT = "t-validate"


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStorage]:
    """A tenant's storage on a database of its own (validate reads every tenant)."""
    if request.param == "postgres":
        with (
            fresh_pg_settings(request.getfixturevalue("pg_urls")) as settings,
            open_storage(settings, TENANT) as opened,
        ):
            yield opened
        return
    settings = StorageSettings(backend=request.param, sqlite_path=str(tmp_path / "v.db"))
    with open_storage(settings, TENANT) as opened:
        yield opened


def check(store: SqlStorage, **options: object) -> ValidationReport:
    return validate(store.settings, storage=store, **options)  # type: ignore[arg-type]


def found(report: ValidationReport, name: str) -> list[str]:
    return [p.message for p in report.problems if p.check == name]


def add_vectors(store: SqlStorage, count: int = 3) -> list[str]:
    rng = np.random.default_rng(7)
    ids: list[str] = store.vectors.add(
        "docs",
        "model-a",
        [NewVector(rng.random(384), content=f"alpha beta note {i}") for i in range(count)],
    )
    return ids


def test_a_clean_store_passes_every_check(store: SqlStorage) -> None:
    add_vectors(store)
    store.events.append("test.event", {"n": 1})
    store.artifacts.store(NewArtifact("s1", "a.txt", "text"), b"hello")
    store.graph.add_entity("Ada", "person", {})
    report = check(store)
    assert report.ok, report.problems
    assert [r.name for r in report.results] == list(CHECK_NAMES)
    postgres = store.backend == "postgres"
    applies = {r.name: r.applies for r in report.results}
    assert applies["row_level_security"] is postgres and applies["event_partitions"] is postgres
    assert applies["keyword_index"] is not postgres


def test_a_schema_behind_head_is_found_and_nothing_else_is_read(store: SqlStorage) -> None:
    with raw(store, "kv") as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0010'"))
    report = check(store)
    assert not report.ok
    assert found(report, "schema_revision") == [
        f"the schema is at revision 0010, not {HEAD}: run `llmspell storage upgrade`"
    ]
    assert [r.name for r in report.results] == ["schema_revision"]


def test_an_unknown_component_is_refused(store: SqlStorage) -> None:
    with pytest.raises(ValueError, match=r"validate: unknown component 'nope'; allowed: .*kv"):
        check(store, component="nope")


def test_a_component_limits_the_checks_to_its_own(store: SqlStorage) -> None:
    report = check(store, component="graph")
    assert [r.name for r in report.results] == [
        "schema_revision",
        "row_level_security",
        "graph_temporal",
    ]


def test_a_tampered_artifact_body_and_a_wrong_reference_count_are_found(store: SqlStorage) -> None:
    record = store.artifacts.store(NewArtifact("s1", "a.txt", "text"), b"hello world")
    with raw(store, "artifacts", TENANT) as conn:
        conn.execute(text("UPDATE artifact_chunks SET data = :d"), {"d": b"tampered!!!"})
        conn.execute(text("UPDATE artifact_content SET ref_count = 5"))
    messages = found(check(store), "artifact_integrity")
    assert any(m.startswith(f"hash_mismatch {record.content_hash}") for m in messages), messages
    assert any(
        m.startswith(f"ref_count {record.content_hash}") and "reference count is 5 but 1" in m
        for m in messages
    ), messages


def test_an_orphaned_body_is_found(store: SqlStorage) -> None:
    record = store.artifacts.store(NewArtifact("s1", "a.txt", "text"), b"orphan me")
    with raw(store, "artifacts", TENANT) as conn:
        conn.execute(text("DELETE FROM artifact_tags"))
        conn.execute(text("DELETE FROM artifacts"))
    report = check(store)
    problems = [p for p in report.problems if p.check == "artifact_integrity"]
    assert any(
        p.tenant == TENANT
        and p.message == f"orphaned body {record.content_hash} (9 bytes): no artifact references it"
        for p in problems
    ), problems


def test_vectors_under_a_namespace_of_another_dimension_are_found(store: SqlStorage) -> None:
    add_vectors(store, 2)
    with raw(store, "vectors", TENANT) as conn:
        conn.execute(text("UPDATE vector_namespaces SET dimension = 768"))
    assert found(check(store), "vector_dimensions") == [
        "2 vectors of dimension 384 in namespace 'docs', whose model 'model-a' has dimension 768"
    ]


def test_vectors_of_another_model_are_found(store: SqlStorage) -> None:
    add_vectors(store, 1)
    with raw(store, "vectors", TENANT) as conn:
        conn.execute(text("UPDATE vectors_384 SET model = 'model-b'"))
    assert found(check(store), "vector_dimensions") == [
        "1 vectors of model 'model-b' in namespace 'docs', which holds model 'model-a'"
    ]


# PostgreSQL's vector(384) column refuses any other size itself.
@pytest.mark.parametrize("store", ["memory", "sqlite"], indirect=True)
def test_an_embedding_of_the_wrong_size_is_found_on_sqlite(store: SqlStorage) -> None:
    [vector_id] = add_vectors(store, 1)
    with raw(store, "vectors", TENANT) as conn:
        conn.execute(text("UPDATE vectors_384 SET embedding = :e"), {"e": bytes(4 * 100)})
    assert found(check(store), "vector_dimensions") == [
        f"vector {vector_id!r} holds 100 floats, not 384"
    ]


def test_a_graph_version_whose_valid_period_ends_before_it_starts_is_found(
    store: SqlStorage,
) -> None:
    entity = store.graph.add_entity("Ada", "person", {})
    with raw(store, "graph", TENANT) as conn:
        start = conn.execute(select(graph_entities.c.valid_from)).scalar_one()
        conn.execute(update(graph_entities).values(valid_to=start - timedelta(days=1)))
    [message] = found(check(store), "graph_temporal")
    assert message.startswith(f"entity_id {entity!r} version 1: its valid period ends (")


@pytest.mark.parametrize("store", ["memory", "sqlite"], indirect=True)
def test_a_keyword_index_out_of_step_is_found_and_rebuilt_by_repair(store: SqlStorage) -> None:
    add_vectors(store, 3)
    with raw(store, "vectors", TENANT) as conn:
        rowid, content = conn.execute(text("SELECT rowid, content FROM vectors_384 LIMIT 1")).one()
        conn.execute(
            text(
                "INSERT INTO vectors_384_fts(vectors_384_fts, rowid, content) "
                "VALUES ('delete', :rowid, :content)"
            ),
            {"rowid": rowid, "content": content},
        )
    assert found(check(store), "keyword_index") == [
        "the keyword index of vectors_384 is out of step with its rows (3 rows, 2 indexed; a "
        "VACUUM renumbers rows): run `llmspell storage validate --repair`"
    ]
    repaired = check(store, repair=True)
    assert repaired.ok
    [result] = [r for r in repaired.results if r.name == "keyword_index"]
    assert result.repaired == ("keyword index of vectors_384 rebuilt (3 rows)",)
    assert check(store).ok
    assert len(store.vectors.keyword_search("docs", ["alpha"], 10)) == 3


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_row_level_security_switched_off_is_found_and_repair_turns_it_on(
    store: SqlStorage,
) -> None:
    with raw(store, "kv") as conn:
        conn.execute(text("ALTER TABLE kv_entries NO FORCE ROW LEVEL SECURITY"))
        conn.execute(text("ALTER TABLE graph_entities DISABLE ROW LEVEL SECURITY"))
    assert found(check(store), "row_level_security") == [
        "row-level security is not enabled on graph_entities: tenants are not isolated there "
        "(`storage validate --repair` turns it back on)",
        "row-level security is not forced on kv_entries: tenants are not isolated there "
        "(`storage validate --repair` turns it back on)",
    ]
    repaired = check(store, repair=True)
    assert repaired.ok
    assert check(store).ok


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_a_missing_tenant_policy_is_found(store: SqlStorage) -> None:
    with raw(store, "kv") as conn:
        conn.execute(text("DROP POLICY tenant_isolation ON kv_history"))
    [message] = found(check(store), "row_level_security")
    assert message.startswith("table kv_history has no tenant_isolation policy")


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_a_dropped_future_event_partition_is_found_and_repair_recreates_it(
    store: SqlStorage,
) -> None:
    next_month = add_months(month_start(datetime.now(UTC)), 1)
    name = f"event_log_p{next_month:%Y_%m}"
    store.events.append("test.event", {"n": 1})  # the store creates this month's and ahead
    with raw(store, "events") as conn:
        conn.execute(text(f"DROP TABLE {name}"))
    assert found(check(store), "event_partitions") == [
        f"partition {name} for {next_month:%Y-%m} is missing (partitions are kept 2 months "
        "ahead; `storage validate --repair` creates it)"
    ]
    repaired = check(store, repair=True)
    assert repaired.ok
    assert check(store).ok
    with raw(store, "events") as conn:
        assert conn.execute(text("SELECT to_regclass(:n)"), {"n": name}).scalar() is not None


def test_problems_of_one_tenant_name_that_tenant(store: SqlStorage) -> None:
    other = store.for_tenant(f"t-{uuid.uuid4().hex[:8]}")
    other.graph.add_entity("Bob", "person", {})
    with raw(store, "graph", other.tenant_id) as conn:
        recorded = conn.execute(select(graph_entities.c.recorded_at)).scalar_one()
        conn.execute(update(graph_entities).values(superseded_at=recorded - timedelta(days=1)))
    [problem] = [p for p in check(store).problems if p.check == "graph_temporal"]
    assert problem.tenant == other.tenant_id and problem.table == "graph_entities"
    assert "its recorded period ends" in problem.message


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_events_stranded_in_the_default_partition_are_found_and_moved_by_repair(
    store: SqlStorage,
) -> None:
    month = add_months(month_start(datetime.now(UTC)), 5)
    name = f"event_log_p{month:%Y_%m}"
    store.events.append("test.event", {"n": 1}, timestamp=month + timedelta(days=2))
    messages = found(check(store), "event_partitions")
    assert messages == [
        f"partition {name} for {month:%Y-%m} is missing (1 events of that month sit in "
        "event_log_default; `storage validate --repair` moves them into it)"
    ]
    assert check(store, repair=True).ok
    with raw(store, "events") as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {name}")).scalar() == 1


def test_repair_must_be_a_boolean(store: SqlStorage) -> None:
    with pytest.raises(ValueError, match="validate: repair must be true or false, got 'yes'"):
        check(store, repair="yes")
