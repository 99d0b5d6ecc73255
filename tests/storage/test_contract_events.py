"""The event log contract, one suite run on every backend (memory, sqlite, postgres).

`TENANT_FILTER_CALLS` reaches every statement of every store method; test_components.py checks
that each carries the tenant.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from storage_helpers import json_values

from llmspell.storage import EventLogSettings, EventLogStats, LoggedEvent, SqlStorage
from llmspell.storage.components.events import SqlEventLog

NOW = datetime.now(UTC)
PAST = NOW - timedelta(days=1)

TENANT_FILTER_CALLS: dict[str, Callable[[SqlEventLog], Any]] = {
    "append": lambda log: log.append("a.b", {"v": 1}, correlation_id="c"),
    "query": lambda log: (
        log.query(),
        log.query(
            event_type="a.b",
            pattern="a.*",
            correlation_id="c",
            since=PAST,
            until=NOW + timedelta(days=1),
            limit=5,
        ),
        log.query(pattern="a.b"),
    ),
    "stats": lambda log: log.stats(),
    "prune": lambda log: (log.prune(), log.prune(PAST)),
}


def _types(events: list[LoggedEvent]) -> list[str]:
    return [e.event_type for e in events]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(value=json_values)
def test_any_json_payload_round_trips(storage: SqlStorage, value: Any) -> None:
    stored = storage.events.append("prop.test", value)
    assert stored.data == value
    assert storage.events.query(event_type="prop.test")[-1].data == value


def test_sequences_start_at_1_and_increase_by_one_per_tenant(
    open_test_storage: Callable[..., SqlStorage],
) -> None:
    a, b = open_test_storage(), open_test_storage()
    assert [a.events.append("x", i).sequence for i in range(3)] == [1, 2, 3]
    assert b.events.append("x", 0).sequence == 1, "each tenant has its own counter"
    assert a.events.append("x", 3).sequence == 4


def test_append_returns_what_query_reads_back(storage: SqlStorage) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    stored = storage.events.append("order.created", {"id": 1}, correlation_id="req-1")
    [read] = storage.events.query()
    assert read == stored
    assert read.event_id and read.correlation_id == "req-1" and read.expires_at is None
    assert read.timestamp.tzinfo is not None and read.timestamp.utcoffset() == timedelta(0)
    assert before <= read.timestamp <= datetime.now(UTC) + timedelta(seconds=5)


def test_given_event_id_and_timestamp_are_kept(storage: SqlStorage) -> None:
    stamp = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    stored = storage.events.append("imported", 1, event_id="ev-42", timestamp=stamp)
    [read] = storage.events.query()
    assert (read.event_id, read.timestamp) == ("ev-42", stamp) == (stored.event_id, stamp)


def test_query_returns_events_in_sequence_order_and_limit_keeps_the_first(
    storage: SqlStorage,
) -> None:
    for i in range(5):
        storage.events.append(f"t{i % 2}", i)
    events = storage.events.query()
    assert [e.sequence for e in events] == [1, 2, 3, 4, 5]
    assert [e.data for e in storage.events.query(limit=2)] == [0, 1]
    assert storage.events.query(limit=0) == []


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*", ["order.created", "order.shipped.late", "user.login", "orders", "a+b.c", "aXb"]),
        ("order.*", ["order.created", "order.shipped.late"]),
        ("order.created", ["order.created"]),
        ("order*", ["order.created", "order.shipped.late", "orders"]),
        ("*.login", ["user.login"]),
        ("order?", ["orders"]),
        ("[ou]*.*", ["order.created", "order.shipped.late", "user.login"]),
        ("[!o]*", ["user.login", "a+b.c", "aXb"]),
        ("a+b.*", ["a+b.c"]),
        ("a.b", []),
        ("nothing.*", []),
    ],
)
def test_query_by_pattern_matches_globs_literally_elsewhere(
    storage: SqlStorage, pattern: str, expected: list[str]
) -> None:
    for kind in ["order.created", "order.shipped.late", "user.login", "orders", "a+b.c", "aXb"]:
        storage.events.append(kind, None)
    assert _types(storage.events.query(pattern=pattern)) == expected


@pytest.mark.timeout(120)
def test_query_by_a_pattern_of_many_stars_takes_time_linear_in_the_types(
    storage: SqlStorage,
) -> None:
    # A backtracking REGEXP (SQLite's was Python's `re`) tried every split of 200 "a"s among
    # ten stars: hours, holding the GIL.
    storage.events.append("a" * 200, 1)
    storage.events.append("a" * 30 + "b", 2)
    started = time.monotonic()
    found = storage.events.query(pattern="*a" * 10 + "b")
    assert time.monotonic() - started < 5
    assert [e.data for e in found] == [2]


def test_query_filters_combine(storage: SqlStorage) -> None:
    storage.events.append("order.created", 1, correlation_id="c1")
    storage.events.append("order.created", 2, correlation_id="c2")
    storage.events.append("order.shipped", 3, correlation_id="c1")
    assert [e.data for e in storage.events.query(correlation_id="c1")] == [1, 3]
    assert [e.data for e in storage.events.query(event_type="order.created")] == [1, 2]
    assert [
        e.data for e in storage.events.query(event_type="order.created", correlation_id="c1")
    ] == [1]
    assert storage.events.query(event_type="order.created", pattern="user.*") == []


def test_since_and_until_are_inclusive(storage: SqlStorage) -> None:
    stamps = [datetime(2025, 1, d, 12, tzinfo=UTC) for d in (1, 2, 3, 4)]
    for i, stamp in enumerate(stamps):
        storage.events.append("day", i, timestamp=stamp)
    assert [e.data for e in storage.events.query(since=stamps[1])] == [1, 2, 3]
    assert [e.data for e in storage.events.query(until=stamps[2])] == [0, 1, 2]
    assert [e.data for e in storage.events.query(since=stamps[1], until=stamps[2])] == [1, 2]
    assert storage.events.query(since=stamps[3] + timedelta(microseconds=1)) == []


def test_expired_events_never_come_back(storage: SqlStorage) -> None:
    storage.events.append("keep", 1)
    storage.events.append("gone", 2, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    storage.events.append("later", 3, expires_at=datetime.now(UTC) + timedelta(hours=1))
    assert _types(storage.events.query()) == ["keep", "later"]
    assert storage.events.stats().by_type == {"keep": 1, "later": 1}


def test_stats_count_by_type_and_report_the_last_sequence(storage: SqlStorage) -> None:
    assert storage.events.stats() == EventLogStats(total=0, by_type={}, last_sequence=0)
    for kind in ["b", "a", "b", "b"]:
        storage.events.append(kind, None)
    stats = storage.events.stats()
    assert stats == EventLogStats(total=4, by_type={"a": 1, "b": 3}, last_sequence=4)
    assert list(stats.by_type) == ["a", "b"]


def test_prune_removes_expired_events_and_those_before_the_cutoff(storage: SqlStorage) -> None:
    old = datetime(2024, 1, 1, tzinfo=UTC)
    storage.events.append("old", 1, timestamp=old)
    storage.events.append("expired", 2, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    storage.events.append("fresh", 3)
    assert storage.events.prune().deleted == 1, "without a cutoff only expired events go"
    assert _types(storage.events.query()) == ["old", "fresh"]
    assert storage.events.prune(old + timedelta(days=1)).deleted == 1
    assert _types(storage.events.query()) == ["fresh"]
    assert storage.events.prune(old).deleted == 0


def test_pruning_never_reuses_a_sequence_number(storage: SqlStorage) -> None:
    for _ in range(3):
        storage.events.append("x", None)
    storage.events.prune(datetime.now(UTC) + timedelta(days=1))
    assert storage.events.query() == []
    assert storage.events.append("x", None).sequence == 4
    assert storage.events.stats().last_sequence == 4


def test_concurrent_appends_get_distinct_consecutive_sequences(storage: SqlStorage) -> None:
    errors: list[str] = []

    def publish(worker: int) -> None:
        try:
            for i in range(15):
                storage.events.append("race", {"w": worker, "i": i})
        except Exception as exc:  # surfaced through `errors` to the main thread
            errors.append(repr(exc))

    threads = [threading.Thread(target=publish, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert [e.sequence for e in storage.events.query()] == list(range(1, 61))


@pytest.mark.parametrize(
    ("event_type", "message"),
    [
        ("", "non-empty"),
        ("a*", "must not contain '\\*'"),
        ("a?", "pattern characters"),
        ("line\nbreak", "control characters"),
        ("x" * 257, "1-256 characters"),
        (3, "must be a string"),
    ],
)
def test_invalid_event_types_are_rejected_and_nothing_is_stored(
    storage: SqlStorage, event_type: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        storage.events.append(event_type, 1)
    assert storage.events.stats().last_sequence == 0


def test_invalid_patterns_are_rejected(storage: SqlStorage) -> None:
    with pytest.raises(ValueError, match="pattern must be a non-empty string"):
        storage.events.query(pattern="")
    with pytest.raises(ValueError, match="not a valid glob"):
        storage.events.query(pattern="[z-a]")


def test_an_oversize_payload_is_rejected_naming_the_limit(
    open_test_storage: Callable[..., SqlStorage],
) -> None:
    storage = open_test_storage(
        component_settings={"events": EventLogSettings(max_payload_bytes=50)}
    )
    with pytest.raises(ValueError, match=r"limit is 50 bytes"):
        storage.events.append("big", "x" * 100)
    assert storage.events.query() == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timestamp": datetime(2025, 1, 1)}, "timestamp must be a timezone-aware"),
        ({"expires_at": "tomorrow"}, "expires_at must be a timezone-aware"),
        ({"correlation_id": ""}, "correlation_id must be a string of 1-256"),
        ({"event_id": 7}, "event_id must be a string"),
    ],
)
def test_bad_append_options_are_rejected(
    storage: SqlStorage, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        storage.events.append("x", 1, **kwargs)
    assert storage.events.stats().last_sequence == 0


def test_non_json_payloads_are_rejected(storage: SqlStorage) -> None:
    with pytest.raises(ValueError, match="cannot be stored as JSON"):
        storage.events.append("x", {"f": object()})


def test_query_rejects_a_negative_limit_and_naive_times(storage: SqlStorage) -> None:
    with pytest.raises(ValueError, match="limit must be a non-negative integer"):
        storage.events.query(limit=-1)
    with pytest.raises(ValueError, match="since must be a timezone-aware"):
        storage.events.query(since=datetime(2025, 1, 1))


def test_a_second_open_of_the_same_database_sees_the_log(
    open_test_storage: Callable[..., SqlStorage], storage_backend: str, unique_tenant: str
) -> None:
    open_test_storage(unique_tenant).events.append("kept", {"v": 1})
    again = open_test_storage(unique_tenant)
    if storage_backend == "memory":
        assert again.events.query() == [], "each memory open is its own database"
        return
    assert [e.data for e in again.events.query()] == [{"v": 1}]
    assert again.events.append("next", None).sequence == 2
