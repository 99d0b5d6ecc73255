"""The agent-state contract, run on memory, sqlite and postgres."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update
from storage_helpers import json_keys, json_values

from llmspell.storage import (
    AgentStateConflict,
    AgentStateCorrupt,
    AgentStateRecord,
    AgentStateSettings,
    SqlStorage,
    StorageError,
)
from llmspell.storage.components.agent_state import SqlAgentStateStore, agent_states


def _every_kind_of_put(s: SqlAgentStateStore) -> None:
    s.put("a", {"n": 1})
    s.put("a", {"n": 2}, expected_version=1)
    s.put("b", {"n": 1}, expected_version=0)
    # the conflict paths read the stored version
    for expected in (0, 1):
        with pytest.raises(AgentStateConflict):
            s.put("a", {}, expected_version=expected)


TENANT_FILTER_CALLS: dict[str, Callable[[SqlAgentStateStore], Any]] = {
    "put": _every_kind_of_put,
    "get": lambda s: s.get("a"),
    "list": lambda s: (s.list(), s.list("a", 1)),
    "count": lambda s: s.count(),
    "delete": lambda s: s.delete("a"),
    "clear": lambda s: s.clear(),
}


def canonical_sha256(state: dict[str, Any]) -> str:
    text = json.dumps(state, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_first_put_is_data_version_1_and_each_put_adds_one(storage: SqlStorage) -> None:
    s = storage.agent_state
    first = s.put("agent-1", {"turns": 1})
    assert (first.agent_id, first.state, first.data_version, first.schema_version) == (
        "agent-1",
        {"turns": 1},
        1,
        1,
    )
    second = s.put("agent-1", {"turns": 2}, schema_version=3)
    assert (second.data_version, second.schema_version) == (2, 3)
    assert second.created_at == first.created_at
    assert second.updated_at >= first.updated_at
    got = s.get("agent-1")
    assert got == second
    assert isinstance(got, AgentStateRecord)


def test_checksum_is_the_sha256_of_the_canonical_json(storage: SqlStorage) -> None:
    state = {"b": [1, 2.5, None], "a": {"z": True, "y": "ünï"}}
    record = storage.agent_state.put("x", state)
    assert record.checksum == canonical_sha256(state)
    # key order does not change the checksum
    again = storage.agent_state.put("x", {"a": {"y": "ünï", "z": True}, "b": [1, 2.5, None]})
    assert again.checksum == record.checksum


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(state=st.dictionaries(json_keys, json_values, max_size=4))
def test_any_json_object_round_trips(storage: SqlStorage, state: dict[str, Any]) -> None:
    storage.agent_state.put("props", state)
    got = storage.agent_state.get("props")
    assert got is not None and got.state == state


def test_expected_version_0_creates_only_a_new_agent(storage: SqlStorage) -> None:
    s = storage.agent_state
    assert s.put("a", {"v": 1}, expected_version=0).data_version == 1
    with pytest.raises(AgentStateConflict, match=r"at version 1, but the put expected version 0"):
        s.put("a", {"v": 2}, expected_version=0)
    found = s.get("a")
    assert found is not None and found.state == {"v": 1}


def test_expected_version_n_writes_only_over_version_n(storage: SqlStorage) -> None:
    s = storage.agent_state
    s.put("a", {"v": 1})
    s.put("a", {"v": 2})
    assert s.put("a", {"v": 3}, expected_version=2).data_version == 3
    with pytest.raises(AgentStateConflict, match=r"at version 3, but the put expected version 2"):
        s.put("a", {"stale": True}, expected_version=2)
    found = s.get("a")
    assert found is not None and (found.state, found.data_version) == ({"v": 3}, 3)


def test_expected_version_of_a_missing_agent_is_a_conflict(storage: SqlStorage) -> None:
    with pytest.raises(AgentStateConflict, match=r"not exist \(version 0\).*expected version 4"):
        storage.agent_state.put("ghost", {}, expected_version=4)
    assert storage.agent_state.get("ghost") is None


def test_a_conflict_is_a_storage_error_carrying_both_versions(storage: SqlStorage) -> None:
    storage.agent_state.put("a", {})
    with pytest.raises(StorageError) as caught:
        storage.agent_state.put("a", {}, expected_version=7)
    assert isinstance(caught.value, AgentStateConflict)
    assert (caught.value.stored_version, caught.value.expected_version) == (1, 7)


def test_concurrent_puts_with_the_same_expected_version_exactly_one_wins(
    storage: SqlStorage,
) -> None:
    s = storage.agent_state
    s.put("shared", {"v": 0})
    start = threading.Barrier(6)
    outcomes: list[str] = []
    lock = threading.Lock()

    def writer(i: int) -> None:
        start.wait()
        try:
            s.put("shared", {"writer": i}, expected_version=1)
            result = "won"
        except AgentStateConflict:
            result = "lost"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["lost"] * 5 + ["won"]
    found = s.get("shared")
    assert found is not None and found.data_version == 2


def test_concurrent_first_puts_exactly_one_creates(storage: SqlStorage) -> None:
    s = storage.agent_state
    start = threading.Barrier(4)
    won: list[int] = []

    def writer(i: int) -> None:
        start.wait()
        try:
            s.put("new", {"writer": i}, expected_version=0)
            won.append(i)
        except AgentStateConflict:
            pass

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    found = s.get("new")
    assert found is not None and found.state == {"writer": won[0]}


def test_unconditional_concurrent_puts_count_every_change(storage: SqlStorage) -> None:
    s = storage.agent_state
    threads = [threading.Thread(target=s.put, args=("busy", {"i": i})) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    found = s.get("busy")
    assert found is not None and found.data_version == 8


def test_list_is_sorted_by_agent_id_with_prefix_and_limit(storage: SqlStorage) -> None:
    s = storage.agent_state
    for agent in ("b", "a/2", "B", "a/1", "ab"):
        s.put(agent, {"id": agent})
    assert [r.agent_id for r in s.list()] == ["B", "a/1", "a/2", "ab", "b"]
    assert [r.agent_id for r in s.list("a/")] == ["a/1", "a/2"]
    assert [r.agent_id for r in s.list("A")] == []
    assert [r.agent_id for r in s.list(limit=2)] == ["B", "a/1"]
    assert [r.agent_id for r in s.list("a", limit=1)] == ["a/1"]
    assert s.list(limit=0) == []
    assert [r.state for r in s.list("ab")] == [{"id": "ab"}]


def test_count_delete_and_clear(storage: SqlStorage) -> None:
    s = storage.agent_state
    for agent in ("x", "y", "z"):
        s.put(agent, {})
    assert s.count() == 3
    assert s.delete("x") is True
    assert s.delete("x") is False
    assert s.get("x") is None
    assert s.count() == 2
    assert s.clear() == 2
    assert (s.count(), s.list()) == (0, [])
    assert s.put("y", {}).data_version == 1, "a deleted agent starts again at version 1"


def _tamper(storage: SqlStorage, agent_id: str, **values: Any) -> None:
    table = agent_states
    with storage.database("agent_state").transaction(write=True) as conn:
        conn.execute(
            update(table)
            .where(table.c.tenant_id == storage.tenant_id, table.c.agent_id == agent_id)
            .values(**values)
        )


def test_a_state_that_does_not_match_its_checksum_is_reported_by_agent_id(
    storage: SqlStorage,
) -> None:
    s = storage.agent_state
    s.put("good", {"ok": True})
    s.put("bad", {"api": "hunter2"})
    _tamper(storage, "bad", state='{"api":"tampered-value"}')
    with pytest.raises(AgentStateCorrupt, match=r"agent 'bad' does not match its checksum") as e:
        s.get("bad")
    assert "hunter2" not in str(e.value) and "tampered-value" not in str(e.value)
    with pytest.raises(AgentStateCorrupt, match="'bad'"):
        s.list()
    assert [r.agent_id for r in s.list("good")] == ["good"]
    assert s.put("bad", {"fixed": 1}).state == {"fixed": 1}, "a put replaces a corrupt state"


def test_unreadable_stored_json_is_corrupt_too(storage: SqlStorage) -> None:
    storage.agent_state.put("a", {})
    _tamper(storage, "a", state="{not json")
    with pytest.raises(AgentStateCorrupt, match="'a'"):
        storage.agent_state.get("a")
    _tamper(storage, "a", state='{"n": NaN}')
    with pytest.raises(AgentStateCorrupt, match="'a'"):
        storage.agent_state.get("a")


@pytest.mark.parametrize(
    ("agent_id", "message"),
    [
        ("", "agent_id must be a non-empty string"),
        (None, "agent_id must be a non-empty string"),
        ("x" * 257, "agent_id must be at most 256 characters"),
        ("a\nb", "must not contain NUL, CR or LF"),
        ("a\x00b", "must not contain NUL, CR or LF"),
        ("a\rb", "must not contain NUL, CR or LF"),
    ],
)
def test_bad_agent_ids_are_refused(storage: SqlStorage, agent_id: Any, message: str) -> None:
    s = storage.agent_state
    for call in (lambda: s.put(agent_id, {}), lambda: s.get(agent_id), lambda: s.delete(agent_id)):
        with pytest.raises(ValueError, match=message):
            call()
    assert s.count() == 0


def test_a_256_character_agent_id_is_fine(storage: SqlStorage) -> None:
    assert storage.agent_state.put("é" * 256, {}).agent_id == "é" * 256


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ([1, 2], "state must be a table of named values .*got list"),
        (None, "state must be a table of named values .*got NoneType"),
        ("text", "state must be a table of named values .*got str"),
        ({"f": object()}, "state cannot be stored as JSON"),
        ({"nan": float("nan")}, "state cannot be stored as JSON"),
        ({"s": "\ud800"}, "state cannot be stored as JSON"),
    ],
)
def test_a_state_that_is_not_a_json_object_is_refused(
    storage: SqlStorage, state: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        storage.agent_state.put("a", state)
    assert storage.agent_state.get("a") is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"expected_version": -1}, "expected_version must be an integer of at least 0"),
        ({"expected_version": True}, "expected_version must be an integer of at least 0"),
        ({"expected_version": "1"}, "expected_version must be an integer of at least 0"),
        ({"schema_version": 0}, "schema_version must be an integer of at least 1"),
    ],
)
def test_bad_versions_are_refused(storage: SqlStorage, options: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        storage.agent_state.put("a", {}, **options)


def test_a_state_over_the_size_limit_is_refused_and_the_stored_one_kept(
    open_test_storage: Any,
) -> None:
    storage = open_test_storage(
        component_settings={"agent_state": AgentStateSettings(max_state_bytes=100)}
    )
    storage.agent_state.put("a", {"small": 1})
    with pytest.raises(ValueError, match=r"state is \d+ bytes as JSON; the limit is 100 bytes"):
        storage.agent_state.put("a", {"big": "x" * 200})
    found = storage.agent_state.get("a")
    assert found is not None and (found.state, found.data_version) == ({"small": 1}, 1)


@pytest.mark.parametrize("limit", [-1, 2**63])
def test_bad_list_limits_are_refused(storage: SqlStorage, limit: int) -> None:
    with pytest.raises(ValueError, match=r"limit must be a non-negative integer \(0 to 9223"):
        storage.agent_state.list(limit=limit)
