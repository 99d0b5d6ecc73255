"""The API-key store contract, run on memory, sqlite and postgres. The store keeps bytes; the
tests use arbitrary bytes as "ciphertext" (encryption is `llmspell.runtime.keys`' job)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from llmspell.storage import ApiKeyConflict, ApiKeyRecord, SqlStorage, StorageError
from llmspell.storage.components.api_keys import SqlApiKeyStore

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def key(
    service: str = "openai",
    key_id: str | None = None,
    *,
    created_at: datetime = NOW,
    **changes: Any,
) -> ApiKeyRecord:
    record = ApiKeyRecord(
        key_id=key_id or uuid.uuid4().hex,
        service=service,
        ciphertext=b"ct-" + uuid.uuid4().bytes,
        nonce=b"n" * 12,
        key_version=1,
        created_at=created_at,
    )
    return replace(record, **changes)


def _rotation(store: SqlApiKeyStore) -> None:
    store.add(key("svc", "k1"))
    store.rotate("k1", key("svc", "k2", rotated_from="k1"))


TENANT_FILTER_CALLS: dict[str, Callable[[SqlApiKeyStore], Any]] = {
    "add": lambda s: s.add(key("svc", "k0")),
    "get": lambda s: s.get("k0"),
    "active": lambda s: s.active("svc"),
    "list": lambda s: (s.list(), s.list("svc"), s.list(include_inactive=True)),
    "deactivate": lambda s: s.deactivate("k0"),
    "rotate": _rotation,
    "record_use": lambda s: s.record_use("k2"),
    "reencrypt": lambda s: s.reencrypt(lambda r: (b"c", b"n", 2)),
    "remove": lambda s: s.remove("svc"),
}


def test_a_key_round_trips_as_bytes(storage: SqlStorage) -> None:
    store = storage.api_keys
    expires = NOW + timedelta(days=30)
    record = key(ciphertext=b"\x00\xff" * 40, nonce=bytes(range(12)), expires_at=expires)
    assert store.add(record) == record
    got = store.get(record.key_id)
    assert got == record
    assert got is not None and isinstance(got.ciphertext, bytes)
    assert (got.usage_count, got.active, got.last_used_at) == (0, True, None)
    assert got.rotated_from is None
    assert store.get("missing") is None


def test_the_record_repr_shows_no_ciphertext_or_nonce() -> None:
    record = key(ciphertext=b"SECRET-BYTES", nonce=b"NONCE-BYTES!")
    assert "SECRET-BYTES" not in repr(record) and "NONCE-BYTES" not in repr(record)


def test_active_is_the_services_unexpired_active_key(storage: SqlStorage) -> None:
    store = storage.api_keys
    assert store.active("openai") is None
    live = store.add(key("openai", expires_at=datetime.now(UTC) + timedelta(hours=1)))
    found = store.active("openai")
    assert found is not None and found.key_id == live.key_id
    stale = store.add(key("anthropic", expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert store.active("anthropic") is None, "an expired key is not handed out"
    assert [r.key_id for r in store.list("anthropic")] == [stale.key_id], "but it is listed"


def test_a_second_active_key_for_a_service_is_refused(storage: SqlStorage) -> None:
    store = storage.api_keys
    first = store.add(key("openai"))
    with pytest.raises(ApiKeyConflict, match=r"service 'openai' already has an active key"):
        store.add(key("openai"))
    assert [r.key_id for r in store.list("openai", include_inactive=True)] == [first.key_id]
    inactive = store.add(key("openai", active=False))
    assert {r.key_id for r in store.list("openai", include_inactive=True)} == {
        first.key_id,
        inactive.key_id,
    }


def test_the_database_refuses_a_second_active_key_even_past_the_check(
    storage: SqlStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unique partial index, not only the store's own check, keeps one active key."""
    store = storage.api_keys
    store.add(key("openai"))
    monkeypatch.setattr(store, "_refuse_second_active", lambda conn, service: None)
    with pytest.raises(ApiKeyConflict, match="already has an active key"):
        store.add(key("openai"))
    assert len(store.list("openai")) == 1


def test_a_duplicate_key_id_is_refused(storage: SqlStorage) -> None:
    storage.api_keys.add(key("a", "same"))
    with pytest.raises(ApiKeyConflict, match="a key with id 'same' already exists"):
        storage.api_keys.add(key("b", "same"))


def test_list_filters_by_service_and_activity_ordered_by_service_then_age(
    storage: SqlStorage,
) -> None:
    store = storage.api_keys
    store.add(key("openai", "o-old", created_at=NOW, active=False))
    store.add(key("openai", "o-new", created_at=NOW + timedelta(1)))
    store.add(key("anthropic", "a", created_at=NOW + timedelta(2)))
    assert [r.key_id for r in store.list()] == ["a", "o-new"]
    assert [r.key_id for r in store.list(include_inactive=True)] == ["a", "o-old", "o-new"]
    assert [r.key_id for r in store.list("openai")] == ["o-new"]
    assert [r.key_id for r in store.list("openai", include_inactive=True)] == ["o-old", "o-new"]
    assert store.list("nothing", include_inactive=True) == []


def test_deactivate_keeps_the_key_as_history(storage: SqlStorage) -> None:
    store = storage.api_keys
    record = store.add(key("openai"))
    assert store.deactivate(record.key_id) is True
    assert store.deactivate(record.key_id) is False
    assert store.deactivate("missing") is False
    assert store.active("openai") is None
    got = store.get(record.key_id)
    assert got is not None and got.active is False
    assert store.add(key("openai")).active, "a new key may be added once the old is inactive"


def test_rotate_deactivates_the_old_key_and_links_the_new_one(storage: SqlStorage) -> None:
    store = storage.api_keys
    store.add(key("openai", "k1"))
    for old, new in (("k1", "k2"), ("k2", "k3"), ("k3", "k4")):
        store.rotate(old, key("openai", new, rotated_from=old))
    history = store.list("openai", include_inactive=True)
    assert [(r.key_id, r.active, r.rotated_from) for r in history] == [
        ("k1", False, None),
        ("k2", False, "k1"),
        ("k3", False, "k2"),
        ("k4", True, "k3"),
    ]
    found = store.active("openai")
    assert found is not None and found.key_id == "k4"


def test_rotating_a_key_that_is_not_active_changes_nothing(storage: SqlStorage) -> None:
    store = storage.api_keys
    store.add(key("openai", "k1"))
    store.rotate("k1", key("openai", "k2", rotated_from="k1"))
    with pytest.raises(ApiKeyConflict, match=r"key 'k1' is not an active key.*nothing"):
        store.rotate("k1", key("openai", "k3", rotated_from="k1"))
    with pytest.raises(ApiKeyConflict, match="'ghost' is not an active key"):
        store.rotate("ghost", key("openai", "k4", rotated_from="ghost"))
    with pytest.raises(ApiKeyConflict, match="belongs to service 'openai', not 'anthropic'"):
        store.rotate("k2", key("anthropic", "k5", rotated_from="k2"))
    assert [r.key_id for r in store.list(include_inactive=True)] == ["k1", "k2"]
    found = store.active("openai")
    assert found is not None and found.key_id == "k2"


def test_rotate_needs_an_active_new_key_that_names_the_old_one(storage: SqlStorage) -> None:
    store = storage.api_keys
    store.add(key("openai", "k1"))
    with pytest.raises(ValueError, match="rotated_from = 'k1'"):
        store.rotate("k1", key("openai", "k2"))
    with pytest.raises(ValueError, match="active=False"):
        store.rotate("k1", key("openai", "k2", rotated_from="k1", active=False))
    found = store.active("openai")
    assert found is not None and found.key_id == "k1"


def test_concurrent_rotations_of_one_key_exactly_one_wins(storage: SqlStorage) -> None:
    store = storage.api_keys
    store.add(key("openai", "k0"))
    start = threading.Barrier(4)
    outcomes: list[str] = []

    def rotate(i: int) -> None:
        start.wait()
        try:
            store.rotate("k0", key("openai", f"new-{i}", rotated_from="k0"))
            outcomes.append("won")
        except ApiKeyConflict:
            outcomes.append("lost")

    threads = [threading.Thread(target=rotate, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["lost", "lost", "lost", "won"]
    assert len(store.list("openai")) == 1
    assert len(store.list("openai", include_inactive=True)) == 2


def test_remove_deletes_every_key_of_the_service_history_included(storage: SqlStorage) -> None:
    store = storage.api_keys
    store.add(key("openai", "k1"))
    store.rotate("k1", key("openai", "k2", rotated_from="k1"))
    store.add(key("anthropic", "a1"))
    assert store.remove("openai") == 2
    assert store.remove("openai") == 0
    assert [r.key_id for r in store.list(include_inactive=True)] == ["a1"]


def test_record_use_counts_uses_and_stamps_the_time(storage: SqlStorage) -> None:
    store = storage.api_keys
    record = store.add(key("openai"))
    before = datetime.now(UTC)
    store.record_use(record.key_id)
    store.record_use(record.key_id)
    store.record_use("missing")
    got = store.get(record.key_id)
    assert got is not None and got.usage_count == 2
    assert got.last_used_at is not None and got.last_used_at >= before - timedelta(seconds=1)


def test_reencrypt_rewrites_every_key_of_the_tenant(storage: SqlStorage) -> None:
    store = storage.api_keys
    store.add(key("openai", "k1"))
    store.rotate("k1", key("openai", "k2", rotated_from="k1"))
    store.add(key("anthropic", "a1"))
    seen: list[str] = []

    def transform(record: ApiKeyRecord) -> tuple[bytes, bytes, int]:
        seen.append(record.key_id)
        return b"new-" + record.key_id.encode(), b"m" * 12, record.key_version + 1

    assert store.reencrypt(transform) == 3
    assert sorted(seen) == ["a1", "k1", "k2"]
    for record in store.list(include_inactive=True):
        assert (record.ciphertext, record.nonce, record.key_version) == (
            b"new-" + record.key_id.encode(),
            b"m" * 12,
            2,
        )
    assert [(r.key_id, r.active) for r in store.list("openai", include_inactive=True)] == [
        ("k1", False),
        ("k2", True),
    ], "only the encryption changes"


def test_reencrypt_changes_nothing_when_the_transform_fails_midway(storage: SqlStorage) -> None:
    store = storage.api_keys
    for service in ("a", "b", "c"):
        store.add(key(service))
    before = store.list(include_inactive=True)
    calls = 0

    def transform(record: ApiKeyRecord) -> tuple[bytes, bytes, int]:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("injected failure")
        return b"changed", b"n" * 12, 9

    with pytest.raises(RuntimeError, match="injected failure"):
        store.reencrypt(transform)
    assert calls == 2
    assert store.list(include_inactive=True) == before


def test_reencrypt_refuses_bad_transform_results_and_changes_nothing(
    storage: SqlStorage,
) -> None:
    store = storage.api_keys
    store.add(key("a"))
    store.add(key("b"))
    before = store.list()
    with pytest.raises(ValueError, match="key_version must be a positive integer"):
        store.reencrypt(lambda r: (b"c", b"n", 0))
    with pytest.raises(ValueError, match="ciphertext must be non-empty bytes"):
        store.reencrypt(lambda r: (b"", b"n", 2))
    assert store.list() == before
    assert storage.api_keys.reencrypt(lambda r: (b"c", b"n", 2)) == 2


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"service": ""}, "service must be a non-empty string"),
        ({"service": "x" * 129}, "service must be at most 128 characters"),
        ({"service": "a\nb"}, "service must not contain NUL, CR or LF"),
        ({"key_id": ""}, "key_id must be a non-empty string"),
        ({"ciphertext": b""}, "ciphertext must be non-empty bytes"),
        ({"ciphertext": "text"}, "ciphertext must be non-empty bytes"),
        ({"nonce": b""}, "nonce must be non-empty bytes"),
        ({"key_version": 0}, "key_version must be a positive integer"),
        ({"created_at": datetime(2026, 1, 1)}, "created_at must be a timezone-aware datetime"),
        ({"expires_at": datetime(2026, 1, 1)}, "expires_at must be a timezone-aware datetime"),
        ({"usage_count": -1}, "usage_count must not be negative"),
        ({"rotated_from": ""}, "rotated_from must be a non-empty string"),
    ],
)
def test_bad_records_are_refused(storage: SqlStorage, changes: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        storage.api_keys.add(replace(key(), **changes))
    assert storage.api_keys.list(include_inactive=True) == []


def test_conflicts_are_storage_errors() -> None:
    assert issubclass(ApiKeyConflict, StorageError)
