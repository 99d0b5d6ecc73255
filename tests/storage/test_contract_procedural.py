"""The procedural-memory contract, run on memory, sqlite and postgres."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from llmspell.storage import SqlStorage
from llmspell.storage.components.procedural import SqlProceduralStore

TENANT_FILTER_CALLS: dict[str, Callable[[SqlProceduralStore], Any]] = {
    "record": lambda p: (p.record("t", "a", True), p.record("t", "a", False, {"c": 1})),
    "for_trigger": lambda p: p.for_trigger("t"),
    "list": lambda p: p.list(1, 10),
    "count": lambda p: p.count(),
    "delete": lambda p: p.delete("t", "a"),
}


def test_record_counts_successes_and_failures_per_trigger_and_action(storage: SqlStorage) -> None:
    p = storage.procedural
    first = p.record("deploy", "run tests first", True)
    assert (first.successes, first.failures, first.success_rate) == (1, 0, 1.0)
    p.record("deploy", "run tests first", True)
    last = p.record("deploy", "run tests first", False, {"why": "flaky"})
    assert (last.successes, last.failures) == (2, 1)
    assert last.success_rate == pytest.approx(2 / 3)
    assert last.id == first.id and last.first_seen == first.first_seen
    assert last.last_seen >= first.last_seen
    assert last.context == {"why": "flaky"}
    p.record("deploy", "skip tests", False)
    assert sorted(x.action for x in p.for_trigger("deploy")) == ["run tests first", "skip tests"]
    assert p.count() == 2


def test_context_is_kept_when_a_later_record_gives_none(storage: SqlStorage) -> None:
    p = storage.procedural
    p.record("t", "a", True, {"k": "v"})
    assert p.record("t", "a", True).context == {"k": "v"}


def test_list_orders_by_observations_and_honours_minimum_and_limit(storage: SqlStorage) -> None:
    p = storage.procedural
    for _ in range(3):
        p.record("t1", "often", True)
    p.record("t2", "once", False)
    assert [x.action for x in p.list()] == ["often", "once"]
    assert [x.action for x in p.list(min_observations=2)] == ["often"]
    assert len(p.list(limit=1)) == 1


def test_delete_forgets_a_pattern(storage: SqlStorage) -> None:
    p = storage.procedural
    p.record("t", "a", True)
    assert p.delete("t", "a") is True
    assert p.delete("t", "a") is False
    assert p.for_trigger("t") == []


def test_bad_input_is_refused(storage: SqlStorage) -> None:
    p = storage.procedural
    with pytest.raises(ValueError, match="trigger must be a non-empty string"):
        p.record("", "a", True)
    with pytest.raises(ValueError, match="success must be true or false"):
        p.record("t", "a", 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="context cannot be stored as JSON"):
        p.record("t", "a", True, {"f": object()})
    assert p.count() == 0
