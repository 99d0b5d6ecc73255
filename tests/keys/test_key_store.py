"""KeyStore on every backend: the round trip, rotation history, expiry, what is refused."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from key_helpers import MakeKeys
from time_machine import TimeMachineFixture

from llmspell.runtime.errors import InvalidArgument, InvalidState, NotFound
from llmspell.runtime.infrastructure import Infrastructure
from llmspell.runtime.keys import KeyInfo, KeyStore
from llmspell.storage import SqlStorage

SECRET = "sk-test-0123456789abcdefghij"


def test_a_key_round_trips_and_each_read_counts_a_use(keys: KeyStore) -> None:
    info = keys.add("openai", SECRET)
    assert (info.service, info.active, info.usage_count, info.key_version) == (
        "openai",
        True,
        0,
        1,
    )
    assert keys.secret("openai") == SECRET
    assert keys.secret("openai") == SECRET
    [listed] = keys.list()
    assert listed.key_id == info.key_id
    assert listed.usage_count == 2
    assert listed.last_used_at is not None and listed.last_used_at >= info.created_at


def test_a_service_without_a_key_has_no_secret_and_needs_no_master_key(
    keys: KeyStore, key_file: Path
) -> None:
    assert keys.secret("anthropic") is None
    assert keys.list() == []
    assert not key_file.exists(), "the key file is made when the first key is encrypted"
    keys.add("anthropic", SECRET)
    assert key_file.exists()


def test_key_info_carries_no_secret_in_fields_or_repr(keys: KeyStore) -> None:
    info = keys.add("openai", SECRET)
    assert {f.name for f in fields(KeyInfo)} == {
        "key_id",
        "service",
        "created_at",
        "expires_at",
        "last_used_at",
        "usage_count",
        "active",
        "rotated_from",
        "key_version",
    }
    assert SECRET not in repr(info) and SECRET not in repr(keys.list()) and SECRET not in repr(keys)


def test_adding_a_second_key_for_a_service_says_to_rotate(keys: KeyStore) -> None:
    keys.add("openai", SECRET)
    with pytest.raises(
        InvalidState, match=r"already has an active key.*llmspell keys rotate openai"
    ):
        keys.add("openai", "sk-other")
    assert keys.secret("openai") == SECRET


def test_three_rotations_keep_the_history_as_a_chain(keys: KeyStore) -> None:
    first = keys.add("openai", "sk-1")
    ids = [first.key_id]
    for n in (2, 3, 4):
        rotated = keys.rotate("openai", f"sk-{n}")
        assert rotated.rotated_from == ids[-1] and rotated.active
        ids.append(rotated.key_id)
    assert keys.secret("openai") == "sk-4"
    history = keys.list("openai", include_inactive=True)
    assert len(history) == 4
    assert [k.active for k in history].count(False) == 3
    by_id = {k.key_id: k for k in history}
    assert [by_id[i].rotated_from for i in ids] == [None, *ids[:-1]]
    assert [k.key_id for k in keys.list("openai")] == [ids[-1]]
    assert [k.key_id for k in history if k.active] == [ids[-1]]


def test_rotating_a_service_without_a_key_says_to_add_one(keys: KeyStore) -> None:
    with pytest.raises(NotFound, match=r"no active key to rotate.*llmspell keys add openai"):
        keys.rotate("openai", SECRET)


def test_remove_deletes_the_service_with_its_history(keys: KeyStore) -> None:
    keys.add("openai", "sk-1")
    keys.rotate("openai", "sk-2")
    keys.add("anthropic", "sk-a")
    assert keys.remove("openai") == 2
    assert keys.secret("openai") is None
    assert keys.remove("openai") == 0
    assert [k.service for k in keys.list(include_inactive=True)] == ["anthropic"]
    keys.add("openai", "sk-again")
    assert keys.secret("openai") == "sk-again"


def test_an_expired_key_is_listed_but_not_handed_out(
    keys: KeyStore, time_machine: TimeMachineFixture
) -> None:
    # the clock stands still until the test moves it, however long encryption takes
    time_machine.move_to(datetime(2026, 3, 1, 12, 0, tzinfo=UTC), tick=False)
    soon = datetime.now(UTC) + timedelta(minutes=1)
    info = keys.add("openai", SECRET, expires_at=soon)
    assert info.expires_at == soon and not info.expired
    time_machine.shift(59)
    assert keys.secret("openai") == SECRET
    time_machine.shift(2)
    assert keys.secret("openai") is None
    [listed] = keys.list()
    assert listed.expired
    # an expired active key is still the one to rotate
    assert keys.rotate("openai", "sk-new").rotated_from == info.key_id
    assert keys.secret("openai") == "sk-new"


@pytest.mark.parametrize(
    ("service", "secret", "message"),
    [
        ("", SECRET, "service must be a non-empty string"),
        ("a\nb", SECRET, "service must be 1-128 printable characters"),
        ("x" * 129, SECRET, "service must be 1-128 printable characters"),
        ("openai", "", "the key for 'openai' is empty"),
        ("openai", b"bytes", "the key for 'openai' must be text, got binary data"),
        ("openai", "x" * 20000, "is 20000 bytes; at most 16384"),
        ("openai", "\ud800", "is not valid text"),
    ],
)
def test_bad_services_and_secrets_are_refused(
    keys: KeyStore, service: object, secret: object, message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        keys.add(service, secret)  # type: ignore[arg-type]
    assert keys.list(include_inactive=True) == []


def test_an_expiry_in_the_past_or_without_a_timezone_is_refused(keys: KeyStore) -> None:
    with pytest.raises(InvalidArgument, match="is in the past"):
        keys.add("openai", SECRET, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    with pytest.raises(InvalidArgument, match="timezone-aware"):
        keys.add("openai", SECRET, expires_at=datetime(2099, 1, 1))


def test_the_runtime_builds_one_key_store_per_infrastructure(storage: SqlStorage) -> None:
    from llmspell.runtime.config import load_config

    config = load_config(env={}, overrides={"tenancy.tenant_id": storage.tenant_id}).config
    infra = Infrastructure(config, storage)
    keys = infra.get(KeyStore)
    assert keys is infra.get(KeyStore)
    assert keys.tenant_id == storage.tenant_id
    keys.add("openai", SECRET)
    assert keys.secret("openai") == SECRET


def test_keys_of_other_services_are_independent(make_keys: MakeKeys) -> None:
    keys = make_keys()
    keys.add("openai", "sk-o")
    keys.add("anthropic", "sk-a")
    keys.rotate("anthropic", "sk-a2")
    assert (keys.secret("openai"), keys.secret("anthropic")) == ("sk-o", "sk-a2")
    assert [k.service for k in keys.list()] == ["anthropic", "openai"]
