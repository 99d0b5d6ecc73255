"""Tenant B never reads, queries, counts, renumbers or prunes tenant A's events — on SQLite
(the statements' tenant filter) and on PostgreSQL as the app role (row-level security)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from llmspell.storage import SqlStorage

# the components whose tenant isolation this module proves (tests/storage/test_components.py)
ISOLATED_COMPONENTS = ("events",)

LATER = datetime.now(UTC) + timedelta(days=1)


@pytest.fixture
def two_tenants(tenant_pair: tuple[SqlStorage, SqlStorage]) -> tuple[SqlStorage, SqlStorage]:
    """Tenants A and B on one database (SQLite, PostgreSQL), A holding three events."""
    a, b = tenant_pair
    a.events.append("order.created", {"owner": "a"}, correlation_id="corr")
    a.events.append("order.shipped", {"owner": "a"}, correlation_id="corr")
    a.events.append("user.login", {"owner": "a"}, timestamp=datetime(2020, 1, 1, tzinfo=UTC))
    return a, b


def test_tenant_b_cannot_read_or_filter_its_way_into_tenant_a_events(
    two_tenants: tuple[SqlStorage, SqlStorage],
) -> None:
    _, b = two_tenants
    assert b.events.query() == []
    assert b.events.query(pattern="*") == []
    assert b.events.query(pattern="order.*") == []
    assert b.events.query(event_type="order.created") == []
    assert b.events.query(correlation_id="corr") == []
    assert b.events.query(since=datetime(2000, 1, 1, tzinfo=UTC), until=LATER) == []


def test_tenant_b_counts_none_of_tenant_a_events(
    two_tenants: tuple[SqlStorage, SqlStorage],
) -> None:
    _, b = two_tenants
    stats = b.events.stats()
    assert (stats.total, stats.by_type, stats.last_sequence) == (0, {}, 0)


def test_tenant_b_publishing_does_not_advance_tenant_a_sequence(
    two_tenants: tuple[SqlStorage, SqlStorage],
) -> None:
    a, b = two_tenants
    assert [b.events.append("order.created", {"owner": "b"}).sequence for _ in range(2)] == [1, 2]
    assert a.events.append("order.created", {"owner": "a"}).sequence == 4
    assert {e.data["owner"] for e in a.events.query()} == {"a"}
    assert {e.data["owner"] for e in b.events.query()} == {"b"}


def test_tenant_b_retention_never_touches_tenant_a_events(
    two_tenants: tuple[SqlStorage, SqlStorage],
) -> None:
    a, b = two_tenants
    b.events.append("b.event", None)
    result = b.events.prune(LATER)
    assert result.deleted == 1
    assert b.events.prune().deleted == 0
    assert len(a.events.query()) == 3
    assert a.events.stats().last_sequence == 3


def test_tenant_a_retention_leaves_tenant_b_alone(
    two_tenants: tuple[SqlStorage, SqlStorage],
) -> None:
    a, b = two_tenants
    b.events.append("b.old", None, timestamp=datetime(2020, 1, 1, tzinfo=UTC))
    assert a.events.prune(datetime(2021, 1, 1, tzinfo=UTC)).deleted == 1
    assert [e.event_type for e in b.events.query()] == ["b.old"]


def test_two_tenants_publishing_concurrently_on_one_pool_keep_their_own_sequences(
    two_tenants: tuple[SqlStorage, SqlStorage],
) -> None:
    a, _ = two_tenants
    b = a.for_tenant(f"{a.tenant_id}-pool-b")
    errors: list[str] = []

    def work(storage: SqlStorage) -> None:
        try:
            for i in range(20):
                storage.events.append("race", {"by": storage.tenant_id, "i": i})
        except Exception as exc:  # surfaced through `errors` to the main thread
            errors.append(repr(exc))

    threads = [threading.Thread(target=work, args=(s,)) for s in (a, b, a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert [e.sequence for e in b.events.query()] == list(range(1, 41))
    assert [e.sequence for e in a.events.query(event_type="race")] == list(range(4, 44))
    assert {e.data["by"] for e in b.events.query()} == {b.tenant_id}
