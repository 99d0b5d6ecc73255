"""The artifacts contract, one suite run on every backend (memory, sqlite, postgres): versions,
sequences, dedup with reference counts, binary-safe chunked bodies, queries, deletes, and the
integrity check finding each kind of corruption.

`TENANT_FILTER_CALLS` reaches every statement of every store method; test_components.py checks
that each carries the tenant. PostgreSQL's chunk rows under row-level security have their own
suite (test_artifact_bodies_postgres.py).
"""

from __future__ import annotations

import hashlib
import io
import os
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from artifact_sources import BreaksWhileWriting, ChangesBetweenPasses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Table, delete, func, insert, select, update

from llmspell.storage import SqlStorage
from llmspell.storage.components.artifacts import (
    ArtifactQuery,
    ArtifactSettings,
    FileContent,
    NewArtifact,
    SqlArtifactStore,
)
from llmspell.storage.components.artifacts.tables import (
    artifact_chunks,
    artifact_content,
    artifact_sequences,
    artifacts,
)

S1 = "11111111-1111-4111-8111-111111111111"
S2 = "22222222-2222-4222-8222-222222222222"
# Small chunks so short test bodies span several chunk rows.
SMALL = ArtifactSettings(max_bytes=10_000, chunk_bytes=4)


def new(name: str = "a.txt", session_id: str = S1, **fields: Any) -> NewArtifact:
    return NewArtifact(
        session_id=session_id, name=name, type=fields.pop("type", "tool_result"), **fields
    )


def _one_artifact(store: SqlArtifactStore) -> None:
    if store.get(S1, 1) is None:
        store.store(new("fixed", tags=("t",)), b"fixed bytes")


TENANT_FILTER_SETTINGS = SMALL
TENANT_FILTER_SETUP: Callable[[SqlArtifactStore], None] = _one_artifact
TENANT_FILTER_CALLS: dict[str, Callable[[SqlArtifactStore], Any]] = {
    "store": lambda store: (
        store.store(new("n", tags=("x",)), b"fixed bytes"),  # a reference more
        store.store(new("n"), os.urandom(40)),  # new content in chunk rows
    ),
    "get": lambda store: store.get(S1, 1),
    "get_version": lambda store: (store.get_version(S1, "fixed"), store.get_version(S1, "f", 1)),
    "read": lambda store: store.read(S1, 1),
    "read_into": lambda store: store.read_into(S1, 1, io.BytesIO()),
    "list": lambda store: store.list(S1),
    "query": lambda store: store.query(
        ArtifactQuery(
            session_id=S1,
            type="tool_result",
            name="f*",
            tags=("t",),
            created_after=datetime(2020, 1, 1, tzinfo=UTC),
            created_before=datetime(2100, 1, 1, tzinfo=UTC),
            min_size=1,
            max_size=100,
            limit=3,
        )
    ),
    "delete": lambda store: store.delete(S1, 1),
    "delete_session": lambda store: store.delete_session(S1),
    "count_by_session": lambda store: store.count_by_session([S1, S2]),
    "check_integrity": lambda store: store.check_integrity(),
}


@pytest.fixture
def small(open_test_storage: Any) -> SqlStorage:
    """Storage whose artifacts use 4-byte chunks."""
    storage: SqlStorage = open_test_storage(component_settings={"artifacts": SMALL})
    return storage


def rows(storage: SqlStorage, table: Table) -> int:
    with storage.database("artifacts").transaction() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(table)
                .where(table.c.tenant_id == storage.tenant_id)
            ).scalar_one()
        )


def ref_count(storage: SqlStorage, content_hash: str) -> int | None:
    c = artifact_content
    with storage.database("artifacts").transaction() as conn:
        return conn.execute(
            select(c.c.ref_count).where(
                c.c.tenant_id == storage.tenant_id, c.c.content_hash == content_hash
            )
        ).scalar_one_or_none()


def corrupt(storage: SqlStorage, statement: Any) -> None:
    with storage.database("artifacts").transaction(write=True) as conn:
        conn.execute(statement)


# --- storing and reading --------------------------------------------------------------------


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.binary(max_size=60))
def test_any_bytes_round_trip_exactly_across_chunks(small: SqlStorage, body: bytes) -> None:
    record = small.artifacts.store(new("b.bin"), body)
    assert record.size == len(body)
    assert record.content_hash == hashlib.sha256(body).hexdigest()
    assert small.artifacts.read(S1, record.sequence) == body


def test_nul_bytes_and_invalid_utf8_come_back_exactly(storage: SqlStorage) -> None:
    body = b"\x00\xff\n\r\x00\xc3\x28" + bytes(range(256))
    record = storage.artifacts.store(new("blob.bin"), body)
    assert storage.artifacts.read(S1, record.sequence) == body


def test_text_is_stored_as_utf8(small: SqlStorage) -> None:
    text = "héllo ✓ 日本語 🙂" * 3
    record = small.artifacts.store(new("t.txt"), text)
    assert small.artifacts.read(S1, record.sequence) == text.encode("utf-8")
    assert record.size == len(text.encode("utf-8"))


def test_empty_content_is_an_artifact_of_size_zero(storage: SqlStorage) -> None:
    record = storage.artifacts.store(new("empty"), b"")
    assert record.size == 0
    assert storage.artifacts.read(S1, record.sequence) == b""


def test_the_record_holds_what_was_given(storage: SqlStorage) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    record = storage.artifacts.store(
        new(
            "r.json",
            mime_type="application/json",
            tags=("b", "a", "b"),
            metadata={"k": [1, 2], "ü": True},
            created_by="agent:x",
            type="agent_output",
        ),
        b"{}",
    )
    assert storage.artifacts.get(S1, record.sequence) == record
    assert record.tags == ("b", "a"), "duplicates dropped, order kept"
    assert (record.type, record.mime_type, record.created_by) == (
        "agent_output",
        "application/json",
        "agent:x",
    )
    assert record.metadata == {"k": [1, 2], "ü": True}
    assert before <= record.created_at <= datetime.now(UTC) + timedelta(seconds=5)


def test_without_a_mime_type_utf8_text_is_text_plain_and_other_bytes_octet_stream(
    small: SqlStorage,
) -> None:
    text = small.artifacts.store(new("t"), "plain ✓ text that spans chunks".encode())
    split = small.artifacts.store(new("s"), "✓✓✓✓".encode())  # multi-byte across 4-byte chunks
    binary = small.artifacts.store(new("b"), b"abc\xff")
    assert (text.mime_type, split.mime_type, binary.mime_type) == (
        "text/plain",
        "text/plain",
        "application/octet-stream",
    )


def test_read_into_writes_the_body_in_chunks(small: SqlStorage) -> None:
    body = os.urandom(50)
    record = small.artifacts.store(new("b"), body)
    writes: list[bytes] = []

    class Recorder:
        def write(self, data: bytes) -> int:
            writes.append(data)
            return len(data)

    assert small.artifacts.read_into(S1, record.sequence, Recorder()) == 50
    assert b"".join(writes) == body
    assert len(writes) > 1
    assert small.artifacts.read_into(S1, 99, Recorder()) is None


def test_a_file_is_stored_from_its_chunks(small: SqlStorage, tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"\x00file\xffbody" * 5)
    record = small.artifacts.store(new("data.bin"), FileContent(path))
    assert small.artifacts.read(S1, record.sequence) == path.read_bytes()


def test_content_that_changes_while_stored_fails_and_leaves_nothing(small: SqlStorage) -> None:
    small.artifacts.store(new("keep"), b"kept")
    with pytest.raises(ValueError, match="changed while it was being stored"):
        small.artifacts.store(new("changing"), ChangesBetweenPasses())
    assert [r.name for r in small.artifacts.list(S1)] == ["keep"]
    assert rows(small, artifact_content) == 1
    assert small.artifacts.check_integrity() == []
    assert small.artifacts.store(new("next"), b"n").sequence == 2, "no sequence was used up"


def test_a_store_that_fails_while_writing_leaves_no_rows(small: SqlStorage) -> None:
    with pytest.raises(OSError, match="broke half-way"):
        small.artifacts.store(new("broken"), BreaksWhileWriting(os.urandom(64)))
    for table in (artifact_content, artifact_chunks, artifacts, artifact_sequences):
        assert rows(small, table) == 0, table.name


def test_content_over_the_size_limit_is_refused_naming_the_setting(
    open_test_storage: Any, tmp_path: Path
) -> None:
    storage = open_test_storage(component_settings={"artifacts": ArtifactSettings(max_bytes=10)})
    with pytest.raises(ValueError, match=r"limit is 10 bytes.*storage.max_artifact_mb"):
        storage.artifacts.store(new("big"), b"x" * 11)
    with pytest.raises(ValueError, match="limit is 10 bytes"):
        storage.artifacts.store(new("big"), "é" * 6)  # 12 bytes of UTF-8
    path = tmp_path / "big.bin"
    path.write_bytes(b"y" * 11)
    with pytest.raises(ValueError, match=r"file .*big.bin.* is 11 bytes"):
        storage.artifacts.store(new("big"), FileContent(path))
    assert storage.artifacts.store(new("ok"), b"x" * 10).sequence == 1
    assert rows(storage, artifact_content) == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": ""}, "name must be a non-empty string"),
        ({"type": ""}, "type must be a non-empty string"),
        ({"session_id": ""}, "session_id must be a non-empty string"),
        ({"mime_type": ""}, "mime_type must be a non-empty string"),
        ({"tags": ("",)}, "tags must be non-empty strings"),
        ({"metadata": {"f": object()}}, "metadata cannot be stored as JSON"),
    ],
)
def test_bad_descriptions_are_refused_and_nothing_is_stored(
    storage: SqlStorage, fields: dict[str, Any], message: str
) -> None:
    values: dict[str, Any] = {"session_id": S1, "name": "a", "type": "tool_result", **fields}
    with pytest.raises(ValueError, match=message):
        storage.artifacts.store(NewArtifact(**values), b"x")
    assert rows(storage, artifacts) == 0
    assert rows(storage, artifact_content) == 0


def test_reading_a_large_body_holds_it_about_once(open_test_storage: Any) -> None:
    size = 8 * 1024 * 1024
    storage = open_test_storage()
    body = os.urandom(size)
    record = storage.artifacts.store(new("big.bin"), body)
    del body
    tracemalloc.start()
    try:
        content = storage.artifacts.read(S1, record.sequence)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert content is not None and len(content) == size
    assert peak < 1.5 * size, f"peak {peak / size:.2f}x the body"


def test_storing_a_large_body_does_not_copy_it(open_test_storage: Any) -> None:
    size = 8 * 1024 * 1024
    storage = open_test_storage()
    body = os.urandom(size)
    tracemalloc.start()
    try:
        storage.artifacts.store(new("big.bin"), body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 0.5 * size, f"peak {peak / size:.2f}x the body beyond the caller's copy"


# --- versions, sequences, dedup -----------------------------------------------------------------


def test_the_same_name_again_is_the_next_version_per_session(storage: SqlStorage) -> None:
    v1 = storage.artifacts.store(new("report"), b"one")
    v2 = storage.artifacts.store(new("report"), b"two")
    other = storage.artifacts.store(new("report", session_id=S2), b"three")
    assert (v1.version, v2.version, other.version) == (1, 2, 1)
    assert storage.artifacts.get_version(S1, "report") == v2
    assert storage.artifacts.get_version(S1, "report", 1) == v1
    assert storage.artifacts.get_version(S1, "report", 3) is None
    assert storage.artifacts.get_version(S1, "missing") is None


def test_sequences_count_per_session_and_are_never_reused(storage: SqlStorage) -> None:
    first = storage.artifacts.store(new("a"), b"1")
    second = storage.artifacts.store(new("b"), b"2")
    assert (first.sequence, second.sequence) == (1, 2)
    assert storage.artifacts.store(new("c", session_id=S2), b"3").sequence == 1
    assert storage.artifacts.delete(S1, 2) is True
    assert storage.artifacts.store(new("d"), b"4").sequence == 3


def test_identical_bytes_are_stored_once_with_a_reference_each(small: SqlStorage) -> None:
    body = b"the same bytes, several chunks long"
    a = small.artifacts.store(new("a"), body)
    b = small.artifacts.store(new("b", session_id=S2), body)
    c = small.artifacts.store(new("c"), body.decode())
    assert a.content_hash == b.content_hash == c.content_hash
    assert rows(small, artifact_content) == 1
    assert ref_count(small, a.content_hash) == 3
    assert small.artifacts.check_integrity() == []


def test_shared_content_lives_until_its_last_reference_goes(small: SqlStorage) -> None:
    body = os.urandom(30)
    a = small.artifacts.store(new("a"), body)
    b = small.artifacts.store(new("b"), body)
    assert small.artifacts.delete(S1, a.sequence) is True
    assert small.artifacts.get(S1, a.sequence) is None
    assert small.artifacts.read(S1, a.sequence) is None
    assert small.artifacts.read(S1, b.sequence) == body
    assert ref_count(small, b.content_hash) == 1
    assert small.artifacts.delete(S1, b.sequence) is True
    assert ref_count(small, b.content_hash) is None
    assert rows(small, artifact_chunks) == 0
    assert small.artifacts.delete(S1, b.sequence) is False


def test_deleting_a_session_removes_its_artifacts_and_only_its_references(
    small: SqlStorage,
) -> None:
    shared = b"shared between the sessions"
    small.artifacts.store(new("a"), shared)
    small.artifacts.store(new("a"), b"own content of s1")
    kept = small.artifacts.store(new("b", session_id=S2), shared)
    assert small.artifacts.delete_session(S1) == 2
    assert small.artifacts.list(S1) == []
    assert small.artifacts.read(S2, kept.sequence) == shared
    assert ref_count(small, kept.content_hash) == 1
    assert rows(small, artifact_content) == 1
    assert small.artifacts.check_integrity() == []
    assert small.artifacts.delete_session(S1) == 0
    assert small.artifacts.store(new("again"), b"x").sequence == 1, "a deleted session starts over"


# --- listing and querying --------------------------------------------------------------------


def test_list_is_in_sequence_order(storage: SqlStorage) -> None:
    stored = [storage.artifacts.store(new(name), name.encode()) for name in ("z", "a", "m")]
    storage.artifacts.store(new("other", session_id=S2), b"o")
    assert storage.artifacts.list(S1) == stored
    assert storage.artifacts.list("33333333-3333-4333-8333-333333333333") == []


def test_count_by_session_counts_every_session_asked_for(storage: SqlStorage) -> None:
    storage.artifacts.store(new("a"), b"1")
    storage.artifacts.store(new("b"), b"2")
    assert storage.artifacts.count_by_session([S1, S2]) == {S1: 2, S2: 0}
    assert storage.artifacts.count_by_session([]) == {}


@pytest.fixture
def catalogue(storage: SqlStorage) -> dict[str, Any]:
    made = {
        "report-1": storage.artifacts.store(new("report-1", tags=("r", "x")), b"1"),
        "report-2": storage.artifacts.store(new("report-2", tags=("r",)), b"22"),
        "Report-3": storage.artifacts.store(new("Report-3", type="user_input"), b"333"),
        "img": storage.artifacts.store(new("img", session_id=S2, tags=("x",)), b"4444"),
    }
    return made


def names(records: list[Any]) -> list[str]:
    return [r.name for r in records]


def test_query_is_newest_first_across_sessions(storage: SqlStorage, catalogue: Any) -> None:
    assert names(storage.artifacts.query(ArtifactQuery())) == [
        "img",
        "Report-3",
        "report-2",
        "report-1",
    ]
    assert names(storage.artifacts.query(ArtifactQuery(limit=2))) == ["img", "Report-3"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (ArtifactQuery(session_id=S2), ["img"]),
        (ArtifactQuery(type="user_input"), ["Report-3"]),
        (ArtifactQuery(name="report*"), ["report-2", "report-1"]),
        (ArtifactQuery(name="[rR]eport-?"), ["Report-3", "report-2", "report-1"]),
        (ArtifactQuery(tags=("x",)), ["img", "report-1"]),
        (ArtifactQuery(tags=("x", "r")), ["report-1"]),
        (ArtifactQuery(min_size=2, max_size=3), ["Report-3", "report-2"]),
        (ArtifactQuery(session_id=S1, tags=("r",), name="*-2"), ["report-2"]),
        (ArtifactQuery(tags=("nope",)), []),
    ],
)
def test_query_filters_combine(
    storage: SqlStorage, catalogue: Any, query: ArtifactQuery, expected: list[str]
) -> None:
    assert names(storage.artifacts.query(query)) == expected


@pytest.mark.timeout(120)
def test_query_by_a_name_glob_of_many_stars_takes_time_linear_in_the_names(
    storage: SqlStorage,
) -> None:
    storage.artifacts.store(new("a" * 200), b"1")
    storage.artifacts.store(new("a" * 30 + "b"), b"2")
    started = time.monotonic()
    found = storage.artifacts.query(ArtifactQuery(name="*a" * 12 + "b"))
    assert time.monotonic() - started < 5
    assert names(found) == ["a" * 30 + "b"]
    with pytest.raises(ValueError, match="at most 1000 characters, got 1001"):
        storage.artifacts.query(ArtifactQuery(name="?" * 1001))


def test_query_by_creation_time_is_after_inclusive_and_before_exclusive(
    storage: SqlStorage, catalogue: dict[str, Any]
) -> None:
    middle = catalogue["report-2"].created_at
    after = storage.artifacts.query(ArtifactQuery(created_after=middle))
    before = storage.artifacts.query(ArtifactQuery(created_before=middle))
    assert names(after) == ["img", "Report-3", "report-2"]
    assert names(before) == ["report-1"]


# --- integrity ------------------------------------------------------------------------------


def kinds(storage: SqlStorage) -> list[tuple[str, str | None]]:
    return [(p.kind, p.content_hash) for p in storage.artifacts.check_integrity()]


def test_a_consistent_store_has_no_integrity_problems(small: SqlStorage) -> None:
    small.artifacts.store(new("a"), os.urandom(40))
    small.artifacts.store(new("b"), b"tiny")
    small.artifacts.store(new("c"), b"tiny")
    assert small.artifacts.check_integrity() == []


def test_integrity_finds_a_body_that_no_longer_matches_its_hash(small: SqlStorage) -> None:
    record = small.artifacts.store(new("a"), b"abcdefgh")  # two chunk rows
    c = artifact_chunks
    corrupt(
        small,
        update(c)
        .where(c.c.tenant_id == small.tenant_id, c.c.chunk_index == 1)
        .values(data=b"EFGH"),
    )
    assert kinds(small) == [("hash_mismatch", record.content_hash)]


def test_integrity_finds_a_wrong_reference_count(small: SqlStorage) -> None:
    record = small.artifacts.store(new("a"), b"abc")
    c = artifact_content
    corrupt(small, update(c).where(c.c.tenant_id == small.tenant_id).values(ref_count=5))
    [problem] = small.artifacts.check_integrity()
    assert (problem.kind, problem.content_hash) == ("ref_count", record.content_hash)
    assert "5" in problem.detail and "1 artifacts" in problem.detail


def test_integrity_finds_a_missing_body(small: SqlStorage) -> None:
    record = small.artifacts.store(new("a"), b"abcdefgh")
    c = artifact_chunks
    corrupt(small, delete(c).where(c.c.tenant_id == small.tenant_id, c.c.chunk_index == 1))
    assert kinds(small) == [("missing_body", record.content_hash)]


def test_integrity_finds_orphaned_chunk_rows(small: SqlStorage) -> None:
    orphan = "0" * 64
    corrupt(
        small,
        insert(artifact_chunks).values(
            tenant_id=small.tenant_id, content_hash=orphan, chunk_index=0, data=b"lost"
        ),
    )
    [problem] = small.artifacts.check_integrity()
    assert (problem.kind, problem.content_hash) == ("orphaned_chunks", orphan)


def test_a_second_open_of_the_same_database_reads_the_artifact(
    open_test_storage: Any, storage_backend: str, unique_tenant: str
) -> None:
    record = open_test_storage(unique_tenant).artifacts.store(new("p"), b"persisted")
    again = open_test_storage(unique_tenant).artifacts
    if storage_backend == "memory":
        assert again.get(S1, record.sequence) is None, "each memory open is its own database"
    else:
        assert again.read(S1, record.sequence) == b"persisted"


def test_counts_of_many_sessions_are_asked_in_batches(storage: SqlStorage) -> None:
    many = [f"{i:08d}-0000-4000-8000-000000000000" for i in range(1200)]
    storage.artifacts.store(new("a", session_id=many[-1]), b"x")
    counts = storage.artifacts.count_by_session(many)
    assert len(counts) == 1200 and counts[many[-1]] == 1 and sum(counts.values()) == 1
