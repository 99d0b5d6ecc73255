"""The hook-history contract, one suite run on every backend (memory, sqlite, postgres)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from llmspell.storage import HookExecution, HookHistorySettings, SqlStorage
from llmspell.storage.components.hooks import SqlHookHistoryStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def execution(n: int = 0, **changes: Any) -> HookExecution:
    fields: dict[str, Any] = {
        "execution_id": str(uuid.uuid4()),
        "hook_id": "h1",
        "hook_name": None,
        "point": "BeforeToolExecution",
        "component": "calculator",
        "correlation_id": None,
        "session_id": None,
        "started_at": T0 + timedelta(seconds=n),
        "duration_ms": 0.5,
        "result": "continue",
        "error": None,
        "context": {"data": {"input": "1+1"}, "n": n},
    }
    fields.update(changes)
    return HookExecution(**fields)


TENANT_FILTER_CALLS: dict[str, Callable[[SqlHookHistoryStore], Any]] = {
    "record": lambda store: store.record(execution()),
    "query": lambda store: (
        store.query(),
        store.query(point="SessionStart", correlation_id="c", session_id="s", limit=2),
    ),
}


def test_a_recorded_execution_reads_back_exactly(storage: SqlStorage) -> None:
    recorded = execution(
        hook_name="audit",
        correlation_id="corr-1",
        session_id="sess-1",
        result="modified",
        context={"point": "BeforeToolExecution", "data": {"x": [1, 2.5, None, "é"]}},
    )
    storage.hooks.record(recorded)
    assert storage.hooks.query() == [recorded]


def test_query_is_newest_first_and_honours_every_filter_and_the_limit(storage: SqlStorage) -> None:
    storage.hooks.record(execution(0, point="SessionStart", session_id="s1"))
    storage.hooks.record(execution(1, point="SessionStart", session_id="s2", correlation_id="c"))
    storage.hooks.record(execution(2, point="SessionEnd", session_id="s1", correlation_id="c"))
    assert [e.context["n"] for e in storage.hooks.query()] == [2, 1, 0]
    assert [e.context["n"] for e in storage.hooks.query(point="SessionStart")] == [1, 0]
    assert [e.context["n"] for e in storage.hooks.query(session_id="s1")] == [2, 0]
    assert [e.context["n"] for e in storage.hooks.query(correlation_id="c")] == [2, 1]
    assert [e.context["n"] for e in storage.hooks.query(point="SessionEnd", session_id="s2")] == []
    assert [e.context["n"] for e in storage.hooks.query(limit=2)] == [2, 1]
    assert storage.hooks.query(limit=0) == []


def test_a_large_context_is_stored_compressed_and_reads_back_whole(
    open_test_storage: Any,
) -> None:
    storage = open_test_storage(
        component_settings={"hooks": HookHistorySettings(compress_over_bytes=64)}
    )
    context = {"data": "x" * 10_000, "list": list(range(200))}
    storage.hooks.record(execution(context=context))
    with storage.database("hooks").transaction() as conn:
        stored = conn.exec_driver_sql("SELECT context FROM hook_history").scalar_one()
    assert len(stored) < 1000, "compressed"
    assert storage.hooks.query()[0].context == context


@pytest.mark.parametrize("limit", [-1, 1.5, True])
def test_a_bad_limit_is_refused(storage: SqlStorage, limit: Any) -> None:
    with pytest.raises(ValueError, match="limit must be a non-negative integer"):
        storage.hooks.query(limit=limit)


def test_an_unknown_result_is_refused_and_nothing_is_recorded(storage: SqlStorage) -> None:
    with pytest.raises(ValueError, match="hook result must be one of"):
        storage.hooks.record(execution(result="maybe"))
    assert storage.hooks.query() == []
