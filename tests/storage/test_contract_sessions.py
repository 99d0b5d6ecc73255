"""The sessions contract, one suite run on every backend (memory, sqlite, postgres).

`TENANT_FILTER_CALLS` reaches every statement of every store method; test_components.py checks
that each carries the tenant.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from llmspell.storage import SqlStorage
from llmspell.storage.components.sessions import SessionQuery, SessionRecord, SqlSessionStore

BASE = datetime(2026, 1, 1, tzinfo=UTC)
FIXED_ID = "00000000-0000-4000-8000-000000000001"


def session(
    name: str | None = None,
    *,
    tags: tuple[str, ...] = (),
    status: str = "active",
    minutes: int = 0,
    **changes: Any,
) -> SessionRecord:
    stamp = BASE + timedelta(minutes=minutes)
    record = SessionRecord(
        id=str(uuid.uuid4()),
        name=name,
        description=None,
        tags=tags,
        status=status,
        parent_id=None,
        metadata={},
        created_at=stamp,
        updated_at=stamp,
    )
    return replace(record, **changes)


def _fixed_session(store: SqlSessionStore) -> None:
    if store.get(FIXED_ID) is None:
        store.create(session("fixed", tags=("t",), id=FIXED_ID))


TENANT_FILTER_SETUP: Callable[[SqlSessionStore], None] = _fixed_session
TENANT_FILTER_CALLS: dict[str, Callable[[SqlSessionStore], Any]] = {
    "create": lambda store: store.create(session("new", tags=("a", "b"))),
    "get": lambda store: store.get(FIXED_ID),
    "list": lambda store: store.list(
        SessionQuery(status="active", tags=("t",), name="f*", limit=5, offset=1, order_by="name")
    ),
    "update": lambda store: store.update(
        replace(session("fixed", tags=("u",), id=FIXED_ID), status="suspended"), "active"
    ),
    "delete": lambda store: store.delete(FIXED_ID),
}


def ids(records: list[SessionRecord]) -> list[str]:
    return [r.id for r in records]


def test_a_created_session_reads_back_with_every_field(storage: SqlStorage) -> None:
    parent = session("parent")
    storage.sessions.create(parent)
    child = session(
        "research ✓ 日本",
        tags=("b", "a"),
        description="a\nlong description",
        parent_id=parent.id,
        metadata={"owner": "ann", "n": 3, "nested": {"ok": True}},
    )
    storage.sessions.create(child)
    assert storage.sessions.get(child.id) == child
    got = storage.sessions.get(child.id)
    assert got is not None and got.tags == ("b", "a"), "tags keep their order"
    assert got.created_at.utcoffset() == timedelta(0)


def test_a_missing_session_is_none(storage: SqlStorage) -> None:
    assert storage.sessions.get(str(uuid.uuid4())) is None


def test_creating_an_existing_id_is_refused_and_keeps_the_first(storage: SqlStorage) -> None:
    first = session("first")
    storage.sessions.create(first)
    with pytest.raises(ValueError, match="exists already"):
        storage.sessions.create(replace(first, name="second"))
    assert storage.sessions.get(first.id) == first


def test_list_is_newest_update_first_by_default(storage: SqlStorage) -> None:
    records = [session(f"s{i}", minutes=i) for i in range(4)]
    for record in records:
        storage.sessions.create(record)
    assert ids(storage.sessions.list(SessionQuery())) == ids(records[::-1])


@pytest.mark.parametrize("descending", [False, True])
def test_list_orders_by_name_or_creation_with_ties_broken_by_id(
    storage: SqlStorage, descending: bool
) -> None:
    same_time = [session(name, minutes=1) for name in ("b", "a", "c", None)]
    for record in same_time:
        storage.sessions.create(record)
    by_name = storage.sessions.list(SessionQuery(order_by="name", descending=descending))
    expected = sorted(same_time, key=lambda r: (r.name or "", r.id), reverse=descending)
    assert ids(by_name) == ids(expected)
    by_created = storage.sessions.list(SessionQuery(order_by="created_at", descending=descending))
    assert ids(by_created) == sorted(ids(same_time), reverse=descending)


def test_list_filters_by_status(storage: SqlStorage) -> None:
    active = session("a")
    done = session("d", status="completed")
    storage.sessions.create(active)
    storage.sessions.create(done)
    assert ids(storage.sessions.list(SessionQuery(status="completed"))) == [done.id]
    assert ids(storage.sessions.list(SessionQuery(status="archived"))) == []


def test_list_by_tags_needs_every_tag(storage: SqlStorage) -> None:
    both = session("both", tags=("x", "y"), minutes=2)
    only_x = session("x", tags=("x",), minutes=1)
    none = session("none")
    for record in (both, only_x, none):
        storage.sessions.create(record)
    assert ids(storage.sessions.list(SessionQuery(tags=("x",)))) == [both.id, only_x.id]
    assert ids(storage.sessions.list(SessionQuery(tags=("x", "y")))) == [both.id]
    assert ids(storage.sessions.list(SessionQuery(tags=("y", "x", "y")))) == [both.id]
    assert storage.sessions.list(SessionQuery(tags=("z",))) == []


def test_list_by_name_is_a_case_sensitive_glob_with_literal_percent_and_underscore(
    storage: SqlStorage,
) -> None:
    names = ["report-1", "report-2", "Report-3", "rep%rt", "rep_rt", "other", None]
    records = {name: session(name) for name in names}
    for record in records.values():
        storage.sessions.create(record)

    def named(pattern: str) -> set[str | None]:
        return {r.name for r in storage.sessions.list(SessionQuery(name=pattern))}

    assert named("report*") == {"report-1", "report-2"}
    assert named("report-?") == {"report-1", "report-2"}
    assert named("[rR]eport-[13]") == {"report-1", "Report-3"}
    assert named("rep%rt") == {"rep%rt"}
    assert named("rep_rt") == {"rep_rt"}
    assert named("other") == {"other"}
    assert named("*") == set(names) - {None}


@pytest.mark.timeout(120)
def test_list_by_a_name_glob_of_many_stars_takes_time_linear_in_the_names(
    storage: SqlStorage,
) -> None:
    storage.sessions.create(session("a" * 200))
    storage.sessions.create(session("a" * 30 + "b"))
    started = time.monotonic()
    found = storage.sessions.list(SessionQuery(name="*a" * 12 + "b"))
    # A thousand stars in a row: PostgreSQL took half a minute over one `.*` each.
    everything = storage.sessions.list(SessionQuery(name="*" * 1000))
    assert time.monotonic() - started < 5
    assert [r.name for r in found] == ["a" * 30 + "b"]
    assert len(everything) == 2


def test_a_name_glob_longer_than_the_limit_is_refused_naming_it(storage: SqlStorage) -> None:
    with pytest.raises(ValueError, match="at most 1000 characters, got 1001"):
        storage.sessions.list(SessionQuery(name="*" * 1001))
    with pytest.raises(ValueError, match="not a valid glob"):
        storage.sessions.list(SessionQuery(name="[z-a]"))


def test_limit_and_offset_page_through_the_order(storage: SqlStorage) -> None:
    records = [session(f"s{i}", minutes=i) for i in range(5)]
    for record in records:
        storage.sessions.create(record)
    newest_first = ids(records[::-1])
    assert ids(storage.sessions.list(SessionQuery(limit=2))) == newest_first[:2]
    assert ids(storage.sessions.list(SessionQuery(limit=2, offset=2))) == newest_first[2:4]
    assert ids(storage.sessions.list(SessionQuery(offset=4))) == newest_first[4:]
    assert storage.sessions.list(SessionQuery(limit=0)) == []


def test_update_replaces_the_mutable_fields_and_the_tags_filter_follows(
    storage: SqlStorage,
) -> None:
    record = session("old", tags=("old",))
    storage.sessions.create(record)
    changed = replace(
        record,
        name="new",
        description="d",
        tags=("new",),
        status="suspended",
        metadata={"k": 1},
        updated_at=BASE + timedelta(hours=1),
    )
    assert storage.sessions.update(changed, expected_status="active") is True
    assert storage.sessions.get(record.id) == changed
    assert ids(storage.sessions.list(SessionQuery(tags=("new",)))) == [record.id]
    assert storage.sessions.list(SessionQuery(tags=("old",))) == []


def test_update_writes_nothing_unless_the_status_is_the_expected_one(storage: SqlStorage) -> None:
    record = session("s", status="completed")
    storage.sessions.create(record)
    assert storage.sessions.update(replace(record, status="archived", name="x"), "active") is False
    assert storage.sessions.get(record.id) == record
    assert storage.sessions.update(replace(record, id=str(uuid.uuid4())), "completed") is False


def test_delete_removes_the_session_and_its_tags(storage: SqlStorage) -> None:
    record = session("s", tags=("t",))
    keep = session("k", tags=("t",))
    storage.sessions.create(record)
    storage.sessions.create(keep)
    assert storage.sessions.delete(record.id) is True
    assert storage.sessions.get(record.id) is None
    assert ids(storage.sessions.list(SessionQuery(tags=("t",)))) == [keep.id]
    assert storage.sessions.delete(record.id) is False


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"status": "done"}, "status must be one of active, suspended"),
        ({"order_by": "size"}, "order must be one of updated_at, created_at, name"),
        ({"limit": -1}, "limit must be a non-negative integer"),
        ({"offset": -1}, "offset must be a non-negative integer"),
    ],
)
def test_bad_queries_are_rejected_naming_what_is_allowed(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        SessionQuery(**changes)


def test_an_unknown_status_is_never_stored(storage: SqlStorage) -> None:
    with pytest.raises(ValueError, match="status must be one of"):
        storage.sessions.create(session("s", status="paused"))
    assert storage.sessions.list(SessionQuery()) == []


def test_a_second_open_of_the_same_database_lists_the_session(
    open_test_storage: Any, storage_backend: str, unique_tenant: str
) -> None:
    record = session("persisted")
    open_test_storage(unique_tenant).sessions.create(record)
    listed = open_test_storage(unique_tenant).sessions.list(SessionQuery())
    if storage_backend == "memory":
        assert listed == [], "each memory open is its own database"
    else:
        assert listed == [record]
