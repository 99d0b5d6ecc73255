"""The kv/state contract, one suite run on every backend (memory, sqlite, postgres).

`TENANT_FILTER_CALLS` reaches every statement of every store method; test_components.py checks
that each carries the tenant.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import func, select
from storage_helpers import json_values

from llmspell.storage import KVSettings, SqlStorage, StateVersion
from llmspell.storage.components.kv import (
    PRUNE_EVERY,
    KVUsage,
    SqlKVStore,
    kv_entries,
    kv_history,
)


def _three_versions(kv: SqlKVStore) -> None:
    for _ in range(PRUNE_EVERY):  # enough versions that put also prunes history (limit 2 below)
        kv.put("g", "k", 0)


TENANT_FILTER_SETTINGS = KVSettings(history_limit=2)
TENANT_FILTER_SETUP: Callable[[SqlKVStore], None] = _three_versions
TENANT_FILTER_CALLS: dict[str, Callable[[SqlKVStore], Any]] = {
    "put": lambda kv: kv.put("g", "k", {"v": 1}),
    "get": lambda kv: kv.get("g", "k"),
    "exists": lambda kv: kv.exists("g", "k"),
    "list_keys": lambda kv: (kv.list_keys("g"), kv.list_keys("g", "k")),
    "count": lambda kv: kv.count("g"),
    "history": lambda kv: kv.history("g", "k"),
    "delete": lambda kv: kv.delete("g", "k"),
    "clear": lambda kv: kv.clear("g"),
    "usage": lambda kv: kv.usage(),
}


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(value=json_values)
def test_any_json_value_round_trips(storage: SqlStorage, value: Any) -> None:
    storage.kv.put("props", "k", value)
    assert storage.kv.get("props", "k") == value


def test_first_put_is_version_1_and_each_put_adds_one(storage: SqlStorage) -> None:
    assert [storage.kv.put("g", "k", i) for i in range(4)] == [1, 2, 3, 4]
    assert storage.kv.get("g", "k") == 3


def test_history_lists_kept_versions_current_first(storage: SqlStorage) -> None:
    for i in range(3):
        storage.kv.put("g", "k", {"i": i})
    history = storage.kv.history("g", "k")
    assert [(h.version, h.value) for h in history] == [(3, {"i": 2}), (2, {"i": 1}), (1, {"i": 0})]
    assert all(isinstance(h, StateVersion) for h in history)
    assert history[0].updated_at >= history[-1].updated_at


def test_history_is_bounded_by_history_limit(open_test_storage: Any) -> None:
    storage = open_test_storage(component_settings={"kv": KVSettings(history_limit=3)})
    for i in range(7):
        storage.kv.put("g", "k", i)
    assert [h.version for h in storage.kv.history("g", "k")] == [7, 6, 5]
    assert [h.value for h in storage.kv.history("g", "k", limit=2)] == [6, 5]
    assert storage.kv.history("g", "k", limit=0) == []


def test_older_versions_wait_at_most_prune_every_puts(open_test_storage: Any) -> None:
    storage = open_test_storage(component_settings={"kv": KVSettings(history_limit=3)})
    stored = select(func.count()).select_from(kv_history).where(kv_history.c.key == "k")
    counts = []
    for i in range(1, 3 * PRUNE_EVERY + 1):
        storage.kv.put("g", "k", i)
        with storage.database("kv").transaction() as conn:
            counts.append(conn.execute(stored).scalar_one())
        assert [h.version for h in storage.kv.history("g", "k")] == list(
            range(i, max(i - 3, 0), -1)
        )
        assert storage.kv.usage().versions == min(i, 3)
    assert max(counts) == 3 + PRUNE_EVERY - 1  # never more than this many rows of one key
    assert counts[-1] == 3  # a put whose version is a multiple of PRUNE_EVERY prunes


def test_a_first_put_records_exactly_one_history_row_equal_to_the_entry(
    storage: SqlStorage,
) -> None:
    # The database records it (revision 0018's trigger), not a second statement of `put`.
    e, h = kv_entries, kv_history
    assert storage.kv.put("g", "first", {"v": 1}) == 1
    with storage.database("kv").transaction() as conn:
        entries = conn.execute(
            select(e.c.version, e.c.value, e.c.updated_at).where(
                e.c.tenant_id == storage.tenant_id, e.c.key == "first"
            )
        ).all()
        recorded = conn.execute(
            select(h.c.version, h.c.value, h.c.updated_at).where(
                h.c.tenant_id == storage.tenant_id, h.c.key == "first"
            )
        ).all()
    assert len(recorded) == 1
    assert recorded == entries
    assert storage.kv.put("g", "first", {"v": 2}) == 2
    assert [(v.version, v.value) for v in storage.kv.history("g", "first")] == [
        (2, {"v": 2}),
        (1, {"v": 1}),
    ]


def test_history_of_a_missing_key_is_empty(storage: SqlStorage) -> None:
    assert storage.kv.history("g", "never") == []


def test_history_rejects_a_negative_limit(storage: SqlStorage) -> None:
    with pytest.raises(ValueError, match="limit"):
        storage.kv.history("g", "k", limit=-1)


def test_updated_at_is_timezone_aware_utc_and_recent(storage: SqlStorage) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    storage.kv.put("g", "k", 1)
    stamp = storage.kv.history("g", "k")[0].updated_at
    assert stamp.tzinfo is not None and stamp.utcoffset() == timedelta(0)
    assert before <= stamp <= datetime.now(UTC) + timedelta(seconds=5)


def test_delete_removes_the_key_and_its_history(storage: SqlStorage) -> None:
    storage.kv.put("g", "k", 1)
    storage.kv.put("g", "k", 2)
    assert storage.kv.delete("g", "k") is True
    assert storage.kv.get("g", "k") is None
    assert storage.kv.exists("g", "k") is False
    assert storage.kv.history("g", "k") == []
    assert storage.kv.delete("g", "k") is False
    assert storage.kv.put("g", "k", 3) == 1, "a deleted key starts again at version 1"


def test_each_version_is_kept_with_the_value_and_time_it_was_put(storage: SqlStorage) -> None:
    versions = [storage.kv.put("g", "k", {"i": i}) for i in range(4)]
    history = storage.kv.history("g", "k")
    assert versions == [1, 2, 3, 4]
    assert [(h.version, h.value) for h in history] == [
        (4, {"i": 3}),
        (3, {"i": 2}),
        (2, {"i": 1}),
        (1, {"i": 0}),
    ]
    stamps = [h.updated_at for h in history]
    assert stamps == sorted(stamps, reverse=True)


def test_a_key_put_again_after_delete_keeps_only_its_new_versions(storage: SqlStorage) -> None:
    for i in range(3):
        storage.kv.put("g", "k", i)
    storage.kv.delete("g", "k")
    assert [storage.kv.put("g", "k", v) for v in ("a", "b")] == [1, 2]
    assert [(h.version, h.value) for h in storage.kv.history("g", "k")] == [(2, "b"), (1, "a")]
    assert storage.kv.usage().versions == 2


def test_exists_distinguishes_a_stored_none_from_a_missing_key(storage: SqlStorage) -> None:
    storage.kv.put("g", "nothing", None)
    assert storage.kv.exists("g", "nothing") is True
    assert storage.kv.get("g", "nothing") is None
    assert storage.kv.exists("g", "missing") is False


def test_scopes_are_separate(storage: SqlStorage) -> None:
    storage.kv.put("a", "k", "in a")
    storage.kv.put("b", "k", "in b")
    assert storage.kv.get("a", "k") == "in a"
    assert storage.kv.get("b", "k") == "in b"
    assert storage.kv.list_keys("a") == ["k"]


def test_list_keys_is_sorted_by_code_point(storage: SqlStorage) -> None:
    for key in ["b", "a", "B", "é", "a2", "_x"]:
        storage.kv.put("g", key, 1)
    assert storage.kv.list_keys("g") == sorted(["b", "a", "B", "é", "a2", "_x"])


def test_list_keys_prefix_is_literal_and_case_sensitive(storage: SqlStorage) -> None:
    for key in ["user:1", "user:2", "User:3", "user%x", "us_r:4", "other"]:
        storage.kv.put("g", key, 1)
    assert storage.kv.list_keys("g", "user:") == ["user:1", "user:2"]
    assert storage.kv.list_keys("g", "user%") == ["user%x"]
    assert storage.kv.list_keys("g", "us_") == ["us_r:4"]
    assert storage.kv.list_keys("g", "nomatch") == []


def test_count_counts_keys_of_a_scope(storage: SqlStorage) -> None:
    for key in "abc":
        storage.kv.put("g", key, 1)
    storage.kv.put("other", "a", 1)
    assert storage.kv.count("g") == 3
    assert storage.kv.count("empty") == 0


def test_usage_counts_entries_scopes_value_bytes_and_kept_versions(storage: SqlStorage) -> None:
    assert storage.kv.usage() == KVUsage(entries=0, scopes=0, value_bytes=0, versions=0)
    storage.kv.put("g", "k", "ab")
    storage.kv.put("g", "k", "é")  # '"é"': 4 bytes of UTF-8 JSON
    storage.kv.put("h", "k", [1, 2])  # '[1,2]': 5
    assert storage.kv.usage() == KVUsage(entries=2, scopes=2, value_bytes=9, versions=3)


def test_clear_removes_only_that_scope_and_returns_how_many(storage: SqlStorage) -> None:
    for key in "abc":
        storage.kv.put("g", key, 1)
        storage.kv.put("g", key, 2)
    storage.kv.put("keep", "a", 1)
    assert storage.kv.clear("g") == 3
    assert storage.kv.list_keys("g") == []
    assert storage.kv.history("g", "a") == []
    assert storage.kv.get("keep", "a") == 1
    assert storage.kv.clear("g") == 0


def test_an_oversize_value_is_rejected_naming_the_limit_and_nothing_is_lost(
    open_test_storage: Any,
) -> None:
    storage = open_test_storage(component_settings={"kv": KVSettings(max_value_bytes=100)})
    storage.kv.put("g", "k", "small")
    with pytest.raises(ValueError, match=r"limit is 100 bytes.*max_value_mb"):
        storage.kv.put("g", "k", "x" * 200)
    assert storage.kv.get("g", "k") == "small"
    assert [h.version for h in storage.kv.history("g", "k")] == [1]


@pytest.mark.parametrize(
    "value", [object(), {1, 2}, float("nan"), {"f": lambda: 1}], ids=["object", "set", "nan", "fn"]
)
def test_non_json_values_are_rejected_and_nothing_is_stored(
    storage: SqlStorage, value: Any
) -> None:
    with pytest.raises(ValueError, match="cannot be stored as JSON"):
        storage.kv.put("g", "k", value)
    assert storage.kv.exists("g", "k") is False


@pytest.mark.parametrize(
    ("scope", "key"),
    [("", "k"), ("g", ""), (None, "k"), ("g", 3)],
    ids=["scope", "key", "none", "int"],
)
def test_empty_or_non_string_names_are_rejected(storage: SqlStorage, scope: Any, key: Any) -> None:
    with pytest.raises(ValueError, match="must be a non-empty string"):
        storage.kv.put(scope, key, 1)
    with pytest.raises(ValueError, match="must be a non-empty string"):
        storage.kv.get(scope, key)


def test_unicode_and_large_values_round_trip(storage: SqlStorage) -> None:
    value = {"text": "héllo wörld ✓ 日本語 🙂", "blob": "y" * 200_000, "nested": [[[]], {}]}
    storage.kv.put("ünï", "ключ", value)
    assert storage.kv.get("ünï", "ключ") == value
    assert storage.kv.list_keys("ünï") == ["ключ"]


def test_closed_storage_refuses_work_and_close_is_idempotent(open_test_storage: Any) -> None:
    storage = open_test_storage()
    storage.kv.put("g", "k", 1)
    storage.close()
    storage.close()
    with pytest.raises(RuntimeError, match="closed"):
        storage.kv.get("g", "k")


def test_a_second_open_of_the_same_database_sees_the_data(
    open_test_storage: Any, storage_backend: str, unique_tenant: str
) -> None:
    if storage_backend == "memory":
        first = open_test_storage(unique_tenant)
        first.kv.put("g", "k", 1)
        second = open_test_storage(unique_tenant)
        assert second.kv.get("g", "k") is None, "each memory open is its own database"
        return
    open_test_storage(unique_tenant).kv.put("g", "k", {"v": 1})
    assert open_test_storage(unique_tenant).kv.get("g", "k") == {"v": 1}
