"""PostgreSQL's event log: monthly range partitions made ahead on write, a DEFAULT partition
that catches everything else, retention that drops a partition only when every row in it has
expired, partitions nobody but the owner can read directly, and an app role that may make or
drop partitions only near now."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from llmspell.storage import SqlStorage, StorageSettings, open_storage
from llmspell.storage.components.events import EVENT_LOG_PARTITIONS
from llmspell.storage.postgres.embedded import PgLogins
from llmspell.storage.postgres.partitions import APP_MONTHS_AHEAD, add_months, month_start

pytestmark = pytest.mark.postgres

# Months far from now and from each other, one per test: the tests share the session database.
OLD = datetime(2001, 3, 15, 12, tzinfo=UTC)


def partitions(owner_url: str) -> dict[str, str]:
    """Partition name → its bound, as the owner sees them."""
    with psycopg.connect(owner_url) as conn:
        rows = conn.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'event_log'::regclass"
        ).fetchall()
    return {str(name): str(bound) for name, bound in rows}


def ensure(url: str, first_month: datetime | str, months: int) -> list[str]:
    """Call the ensure function as the login of `url`; the partitions it created."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            f"SELECT {EVENT_LOG_PARTITIONS.ensure_function}(%s::timestamptz, %s)",
            (first_month, months),
        ).fetchone()
    return list(row[0]) if row else []


def drop_expired(url: str, older_than: datetime) -> list[str]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            f"SELECT {EVENT_LOG_PARTITIONS.drop_function}(%s)", (older_than,)
        ).fetchone()
    return list(row[0]) if row else []


def rows_in(owner_url: str, table: str) -> int:
    """Rows of a partition read directly by its owner (every tenant's)."""
    with psycopg.connect(owner_url) as conn:
        query = psycopg.sql.SQL("SELECT count(*) FROM {}").format(psycopg.sql.Identifier(table))
        row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


@pytest.fixture
def tenants(pg_settings: StorageSettings, unique_tenant: str) -> Iterator[list[SqlStorage]]:
    opened = [open_storage(pg_settings, f"{unique_tenant}-{n}") for n in ("a", "b")]
    yield opened
    for storage in opened:
        storage.close()


def test_the_log_is_range_partitioned_by_timestamp_with_a_default_partition(
    pg_urls: PgLogins,
) -> None:
    with psycopg.connect(pg_urls.owner_url) as conn:
        key = conn.execute("SELECT pg_get_partkeydef('event_log'::regclass)").fetchone()
    assert key == ('RANGE ("timestamp")',)
    assert partitions(pg_urls.owner_url)["event_log_default"] == "DEFAULT"


def test_the_first_write_creates_this_month_and_the_months_ahead(
    pg_urls: PgLogins, tenants: list[SqlStorage]
) -> None:
    a, _ = tenants
    a.events.append("created.ahead", None)
    first = month_start(datetime.now(UTC))
    expected = [EVENT_LOG_PARTITIONS.partition_name(add_months(first, n)) for n in range(3)]
    existing = partitions(pg_urls.owner_url)
    assert set(expected) <= set(existing)
    start = first.strftime("%Y-%m-%d")
    assert existing[expected[0]].startswith(f"FOR VALUES FROM ('{start} 00:00:00+00')")
    assert rows_in(pg_urls.owner_url, expected[0]) >= 1, "this month's events go to its partition"


def test_an_event_outside_every_partition_lands_in_default_and_moves_when_its_month_is_made(
    pg_urls: PgLogins, tenants: list[SqlStorage]
) -> None:
    a, _ = tenants
    when = datetime(2003, 7, 9, tzinfo=UTC)
    name = EVENT_LOG_PARTITIONS.partition_name(when)
    assert name not in partitions(pg_urls.owner_url)
    stored = a.events.append("from.the.past", {"n": 1}, timestamp=when)
    assert stored.sequence >= 1, "no insert fails for lack of a partition"
    assert ensure(pg_urls.owner_url, when, 1) == [name]
    assert rows_in(pg_urls.owner_url, name) == 1
    assert [e.data for e in a.events.query(event_type="from.the.past")] == [{"n": 1}]
    assert ensure(pg_urls.owner_url, when, 1) == [], "idempotent"


def test_retention_never_drops_a_partition_holding_another_tenants_live_events(
    pg_urls: PgLogins, tenants: list[SqlStorage]
) -> None:
    a, b = tenants
    when = OLD
    name = EVENT_LOG_PARTITIONS.partition_name(when)
    ensure(pg_urls.owner_url, when, 1)
    a.events.append("a.live", {"mine": True}, timestamp=when)
    b.events.append("b.old", None, timestamp=when)
    result = b.events.prune(datetime.now(UTC))
    assert result.deleted == 1
    assert name not in result.partitions_dropped
    assert name in partitions(pg_urls.owner_url)
    assert [e.data for e in a.events.query(event_type="a.live")] == [{"mine": True}]
    assert b.events.query(event_type="b.old") == []


def test_retention_drops_an_old_partition_once_only_expired_rows_are_left(
    pg_urls: PgLogins, tenants: list[SqlStorage]
) -> None:
    a, b = tenants
    when = OLD + timedelta(days=62)  # another month than the previous test's
    name = EVENT_LOG_PARTITIONS.partition_name(when)
    ensure(pg_urls.owner_url, when, 1)
    expired = datetime.now(UTC) - timedelta(seconds=1)
    a.events.append("a.expired", None, timestamp=when, expires_at=expired)
    b.events.append("b.old", None, timestamp=when)
    result = b.events.prune(when + timedelta(days=40))
    assert result.deleted == 1
    assert name in result.partitions_dropped
    assert name not in partitions(pg_urls.owner_url)
    assert "event_log_default" in partitions(pg_urls.owner_url), "DEFAULT is never dropped"


def test_retention_keeps_partitions_newer_than_the_cutoff(
    pg_urls: PgLogins, tenants: list[SqlStorage]
) -> None:
    a, _ = tenants
    when = OLD + timedelta(days=130)
    name = EVENT_LOG_PARTITIONS.partition_name(when)
    ensure(pg_urls.owner_url, when, 1)
    result = a.events.prune(month_start(when))  # the cutoff is inside, not after, the month
    assert name not in result.partitions_dropped
    assert name in partitions(pg_urls.owner_url)


def test_the_app_role_cannot_read_or_drop_a_partition_directly(
    pg_urls: PgLogins, tenants: list[SqlStorage]
) -> None:
    a, _ = tenants
    a.events.append("secret", {"x": 1})
    with psycopg.connect(pg_urls.app_url) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM event_log_default")
        conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DROP TABLE event_log_default")
        conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "CREATE TABLE event_log_p2099_01 PARTITION OF event_log "
                "FOR VALUES FROM ('2099-01-01') TO ('2099-02-01')"
            )


def test_partitions_have_row_level_security_enabled_and_no_grants(pg_urls: PgLogins) -> None:
    names = list(partitions(pg_urls.owner_url))
    with psycopg.connect(pg_urls.owner_url) as conn:
        rows: list[tuple[Any, ...]] = conn.execute(
            "SELECT relname, relrowsecurity, relacl FROM pg_class WHERE relname = ANY(%s)",
            (names,),
        ).fetchall()
    assert len(rows) == len(names) >= 2
    assert all(enabled for _, enabled, _ in rows)
    assert all(acl is None for _, _, acl in rows), "only the owner reaches a partition"


def test_an_unset_tenant_sees_no_event_through_the_parent(
    pg_urls: PgLogins, tenants: list[SqlStorage]
) -> None:
    a, _ = tenants
    a.events.append("hidden", None)
    with psycopg.connect(pg_urls.app_url) as conn:
        assert conn.execute("SELECT count(*) FROM event_log").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM event_sequences").fetchone() == (0,)


def test_the_partition_functions_are_not_executable_by_public(pg_urls: PgLogins) -> None:
    with psycopg.connect(pg_urls.owner_url) as conn:
        rows = conn.execute(
            "SELECT proname, prosecdef, proacl::text[] FROM pg_proc "
            "WHERE proname LIKE 'llmspell_event_log_%' ORDER BY proname"
        ).fetchall()
    assert [name for name, _, _ in rows] == [
        EVENT_LOG_PARTITIONS.drop_function,
        EVENT_LOG_PARTITIONS.ensure_function,
    ]
    for _, security_definer, acl in rows:
        assert security_definer
        assert not any(entry.startswith("=") for entry in acl), f"PUBLIC may execute: {acl}"


def test_a_tenant_cannot_write_or_delete_another_tenants_events_through_the_parent(
    pg_urls: PgLogins, tenants: list[SqlStorage]
) -> None:
    a, _ = tenants
    a.events.append("owned.by.a", {"v": 1})
    with psycopg.connect(pg_urls.app_url) as conn:
        conn.execute("SELECT set_config('app.tenant_id', 'intruder', true)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            conn.execute(
                "INSERT INTO event_log VALUES (%s, 'x', 'planted', NULL, now(), 999, '1', NULL)",
                (a.tenant_id,),
            )
        conn.rollback()
        conn.execute("SELECT set_config('app.tenant_id', 'intruder', true)")
        deleted = conn.execute(
            "DELETE FROM event_log WHERE tenant_id = %s", (a.tenant_id,)
        ).rowcount
        updated = conn.execute(
            "UPDATE event_sequences SET last_sequence = 0 WHERE tenant_id = %s", (a.tenant_id,)
        ).rowcount
        conn.commit()
    assert (deleted, updated) == (0, 0)
    assert [e.data for e in a.events.query(event_type="owned.by.a")] == [{"v": 1}]
    assert a.events.stats().last_sequence == 1


def test_the_app_role_cannot_create_partitions_far_ahead_far_back_or_in_bulk(
    pg_urls: PgLogins,
) -> None:
    before = set(partitions(pg_urls.owner_url))
    for first_month, months in [
        ("now() + interval '30 years'", 120),  # the call: 120 tables, decades ahead
        ("now()", 120),
        ("now() + interval '26 months'", 1),
        ("now() - interval '2 months'", 1),
        ("'2001-01-01'", 1),
    ]:
        with psycopg.connect(pg_urls.app_url) as conn:
            query = f"SELECT {EVENT_LOG_PARTITIONS.ensure_function}({first_month}, %s)"
            with pytest.raises(
                psycopg.errors.InsufficientPrivilege,
                match=r"may create event_log partitions only from \d{4}-\d\d to \d{4}-\d\d",
            ):
                conn.execute(query, (months,))
    assert set(partitions(pg_urls.owner_url)) == before


def test_the_app_role_may_create_partitions_from_last_month_to_25_months_ahead(
    pg_urls: PgLogins,
) -> None:
    this_month = month_start(datetime.now(UTC))
    last_month = add_months(this_month, -1)
    furthest = add_months(this_month, APP_MONTHS_AHEAD + 1)
    ensure(pg_urls.app_url, last_month, 1)
    ensure(pg_urls.app_url, furthest, 1)
    existing = partitions(pg_urls.owner_url)
    for month in (last_month, furthest):
        assert EVENT_LOG_PARTITIONS.partition_name(month) in existing


def test_the_owner_creates_partitions_anywhere(pg_urls: PgLogins) -> None:
    far = datetime(2091, 5, 1, tzinfo=UTC)
    created = ensure(pg_urls.owner_url, far, 2)
    assert created == [
        EVENT_LOG_PARTITIONS.partition_name(far),
        EVENT_LOG_PARTITIONS.partition_name(add_months(far, 1)),
    ]


def test_an_event_stamped_decades_ahead_lands_in_default_and_makes_no_partition(
    pg_urls: PgLogins, tenants: list[SqlStorage]
) -> None:
    a, _ = tenants
    far = datetime(2083, 2, 3, tzinfo=UTC)
    a.events.append("from.the.future", {"n": 2}, timestamp=far)
    existing = partitions(pg_urls.owner_url)
    assert EVENT_LOG_PARTITIONS.partition_name(far) not in existing
    assert EVENT_LOG_PARTITIONS.partition_name(month_start(datetime.now(UTC))) in existing
    assert [e.data for e in a.events.query(event_type="from.the.future")] == [{"n": 2}]


def test_the_app_role_drops_only_partitions_of_months_that_are_over(
    pg_urls: PgLogins,
) -> None:
    future = datetime(2092, 7, 1, tzinfo=UTC)
    name = EVENT_LOG_PARTITIONS.partition_name(future)
    ensure(pg_urls.owner_url, future, 1)
    assert name not in drop_expired(pg_urls.app_url, datetime(2100, 1, 1, tzinfo=UTC))
    assert name in partitions(pg_urls.owner_url), "empty, but not over"
