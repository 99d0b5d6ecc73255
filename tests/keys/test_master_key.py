"""The master key: the 0600 key file and its keyring, LLMSPELL_MASTER_KEY, clear errors for a
wrong key, and master-key rotation that never leaves a key unreadable."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from key_helpers import FailingReencrypt, MakeKeys, b64key

from llmspell.runtime.keys import KeyStore, MasterKeyError
from llmspell.runtime.keys.master import master_key_source
from llmspell.storage import ApiKeyRecord

# --- the key file ---------------------------------------------------------------------------


def test_the_key_file_is_created_on_first_use_with_mode_0600(
    keys: KeyStore, key_file: Path
) -> None:
    keys.add("openai", "sk-1")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    data = json.loads(key_file.read_text())
    ring = data["tenants"][keys.tenant_id]
    assert ring["current"] == 1
    assert len(base64.b64decode(ring["keys"]["1"])) == 32
    assert "sk-1" not in key_file.read_text()


def test_the_key_file_is_0600_even_under_a_permissive_umask(keys: KeyStore, key_file: Path) -> None:
    old = os.umask(0)
    try:
        keys.add("openai", "sk-1")
        keys.rotate_master()  # rewrites the file
    finally:
        os.umask(old)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in key_file.parent.iterdir() if p.suffix == ".tmp"] == []


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_key_file_other_users_can_access_is_refused_saying_to_chmod_600(
    keys: KeyStore, key_file: Path, mode: int
) -> None:
    keys.add("openai", "sk-1")
    key_file.chmod(mode)
    with pytest.raises(MasterKeyError, match=rf"mode {mode:04o}.*chmod 600 {key_file}"):
        keys.secret("openai")
    with pytest.raises(MasterKeyError, match="chmod 600"):
        keys.add("anthropic", "sk-2")
    key_file.chmod(0o600)
    assert keys.secret("openai") == "sk-1"


def test_a_key_file_that_is_a_symlink_is_refused(keys: KeyStore, key_file: Path) -> None:
    keys.add("openai", "sk-1")
    real = key_file.with_name("real.key")
    key_file.rename(real)
    key_file.symlink_to(real)
    with pytest.raises(MasterKeyError, match="cannot open the key file"):
        keys.secret("openai")


def test_a_damaged_key_file_is_a_clear_error(keys: KeyStore, key_file: Path) -> None:
    keys.add("openai", "sk-1")
    key_file.write_text("{not json")
    with pytest.raises(MasterKeyError, match=r"is not a llmspell master key file \(not JSON\)"):
        keys.secret("openai")


def test_tenants_sharing_a_key_file_have_their_own_keyrings(
    make_keys: MakeKeys, key_file: Path, open_test_storage: Any
) -> None:
    a = make_keys()
    other = open_test_storage()
    b = make_keys(on=other)
    a.add("openai", "sk-a")
    b.add("openai", "sk-b")
    rings = json.loads(key_file.read_text())["tenants"]
    assert set(rings) == {a.tenant_id, b.tenant_id}
    assert rings[a.tenant_id]["keys"] != rings[b.tenant_id]["keys"]
    b.rotate_master()
    b.rotate_master()
    assert a.secret("openai") == "sk-a", "rotating B's master key leaves A's keyring alone"
    assert b.secret("openai") == "sk-b"


# --- a wrong master key ---------------------------------------------------------------------


def test_a_different_master_key_in_the_environment_is_a_clear_error(make_keys: MakeKeys) -> None:
    make_keys(env={"LLMSPELL_MASTER_KEY": b64key()}).add("openai", "sk-1")
    other = make_keys(env={"LLMSPELL_MASTER_KEY": b64key()})
    with pytest.raises(
        MasterKeyError,
        match=r"cannot decrypt the API key of service 'openai' \(key .*, master key version 1\): "
        r"LLMSPELL_MASTER_KEY differs from the master key that encrypted it",
    ) as caught:
        other.secret("openai")
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert "InvalidTag" not in str(caught.value)


def test_a_key_added_with_the_file_is_not_readable_with_an_env_key(make_keys: MakeKeys) -> None:
    make_keys().add("openai", "sk-1")
    with pytest.raises(MasterKeyError, match="LLMSPELL_MASTER_KEY differs"):
        make_keys(env={"LLMSPELL_MASTER_KEY": b64key()}).secret("openai")
    assert make_keys().secret("openai") == "sk-1"


def test_a_replaced_key_file_is_a_clear_error(make_keys: MakeKeys, key_file: Path) -> None:
    keys = make_keys()
    keys.add("openai", "sk-1")
    # Same version, other key bytes: the file was swapped for another one.
    data = json.loads(key_file.read_text())
    data["tenants"][keys.tenant_id]["keys"]["1"] = b64key()
    key_file.write_text(json.dumps(data))
    with pytest.raises(
        MasterKeyError,
        match=r"service 'openai'.*master key version 1\): master key version 1 in the key file "
        r".* differs from the one that encrypted it \(was the file replaced",
    ):
        keys.secret("openai")


def test_a_deleted_key_file_is_a_clear_error_and_new_keys_get_a_new_version(
    make_keys: MakeKeys, key_file: Path
) -> None:
    keys = make_keys()
    keys.add("openai", "sk-1")
    key_file.unlink()
    with pytest.raises(MasterKeyError, match=r"master key version 1\): the key file .* does not"):
        keys.secret("openai")
    info = keys.add("anthropic", "sk-2")
    assert info.key_version == 2, "a new keyring never reuses a version a row names"
    with pytest.raises(MasterKeyError, match="has no master key version 1 for tenant"):
        keys.secret("openai")
    assert keys.secret("anthropic") == "sk-2"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "LLMSPELL_MASTER_KEY is set but empty"),
        ("not base64!", "LLMSPELL_MASTER_KEY is not valid base64"),
        (base64.b64encode(b"short").decode(), "LLMSPELL_MASTER_KEY decodes to 5 bytes"),
    ],
)
def test_a_malformed_env_master_key_says_what_is_wrong(
    make_keys: MakeKeys, value: str, message: str
) -> None:
    keys = make_keys(env={"LLMSPELL_MASTER_KEY": value})
    assert keys.secret("openai") is None, "no stored key, no master key needed"
    with pytest.raises(MasterKeyError, match=message) as caught:
        keys.add("openai", "sk-1")
    assert "32 random bytes" in str(caught.value) or "empty" in str(caught.value)
    assert keys.list(include_inactive=True) == []


def test_the_env_master_key_wins_over_the_key_file(tmp_path: Path) -> None:
    env = {"LLMSPELL_MASTER_KEY": b64key()}
    assert master_key_source("t", env=env, key_file=tmp_path / "k").describe() == (
        "LLMSPELL_MASTER_KEY"
    )
    assert master_key_source("t", env={}, key_file=tmp_path / "k").describe() == (
        f"the key file {tmp_path / 'k'}"
    )


# --- master-key rotation ----------------------------------------------------------------------


def _fill(keys: KeyStore) -> dict[str, str]:
    keys.add("openai", "sk-o1")
    keys.rotate("openai", "sk-o2")
    keys.add("anthropic", "sk-a1")
    keys.add("mistral", "sk-m1")
    return {"openai": "sk-o2", "anthropic": "sk-a1", "mistral": "sk-m1"}


def _readable(keys: KeyStore, secrets: dict[str, str]) -> None:
    for service, secret in secrets.items():
        assert keys.secret(service) == secret


def test_rotate_master_twice_in_a_row_keeps_every_key_readable(
    keys: KeyStore, make_keys: MakeKeys, key_file: Path
) -> None:
    secrets = _fill(keys)
    first = keys.rotate_master()
    assert (first.keys, first.key_version) == (4, 2)
    second = keys.rotate_master()
    assert (second.keys, second.key_version) == (4, 3)
    assert second.source == f"the key file {key_file}"
    assert {k.key_version for k in keys.list(include_inactive=True)} == {3}
    ring = json.loads(key_file.read_text())["tenants"][keys.tenant_id]
    assert (ring["current"], list(ring["keys"])) == (3, ["3"]), "old versions dropped"
    _readable(make_keys(), secrets)
    keys.rotate("openai", "sk-o3")
    assert keys.list("openai")[0].key_version == 3


def test_a_failure_midway_through_rotate_master_leaves_every_key_readable(
    keys: KeyStore, make_keys: MakeKeys, key_file: Path
) -> None:
    secrets = _fill(keys)
    before = {k.key_id: k.key_version for k in keys.list(include_inactive=True)}
    failing = make_keys(store=FailingReencrypt(keys._store))
    with pytest.raises(RuntimeError, match="injected failure"):
        failing.rotate_master()
    assert {k.key_id: k.key_version for k in keys.list(include_inactive=True)} == before
    ring = json.loads(key_file.read_text())["tenants"][keys.tenant_id]
    assert "1" in ring["keys"], "the old master key is still in the keyring"
    _readable(make_keys(), secrets)
    # the next rotation succeeds and cleans up
    done = make_keys().rotate_master()
    assert done.keys == 4 and done.key_version == 3
    ring = json.loads(key_file.read_text())["tenants"][keys.tenant_id]
    assert list(ring["keys"]) == ["3"]
    _readable(make_keys(), secrets)


def test_a_key_that_does_not_decrypt_stops_rotate_master_before_any_change(
    keys: KeyStore, make_keys: MakeKeys
) -> None:
    secrets = _fill(keys)
    planted = ApiKeyRecord("planted", "planted", b"x" * 32, b"n" * 12, 1, keys.list()[0].created_at)
    keys._store.add(planted)
    with pytest.raises(MasterKeyError, match="service 'planted'"):
        keys.rotate_master()
    keys.remove("planted")
    _readable(make_keys(), secrets)
    assert keys.rotate_master().keys == 4


def test_rotating_an_env_master_key_needs_the_new_key_and_then_the_variable(
    make_keys: MakeKeys,
) -> None:
    old, new = b64key(), b64key()
    keys = make_keys(env={"LLMSPELL_MASTER_KEY": old})
    secrets = _fill(keys)
    with pytest.raises(MasterKeyError, match=r"give the new one explicitly.*--new-key-env"):
        keys.rotate_master()
    with pytest.raises(MasterKeyError, match="is the one LLMSPELL_MASTER_KEY holds already"):
        keys.rotate_master(base64.b64decode(old))
    done = keys.rotate_master(base64.b64decode(new))
    assert (done.keys, done.key_version, done.source) == (4, 2, "LLMSPELL_MASTER_KEY")
    with pytest.raises(MasterKeyError, match="LLMSPELL_MASTER_KEY differs"):
        keys.secret("openai")
    _readable(make_keys(env={"LLMSPELL_MASTER_KEY": new}), secrets)


def test_a_failed_env_rotation_leaves_the_old_key_working(make_keys: MakeKeys) -> None:
    old = b64key()
    keys = make_keys(env={"LLMSPELL_MASTER_KEY": old})
    secrets = _fill(keys)
    failing = make_keys(
        env={"LLMSPELL_MASTER_KEY": old}, store=FailingReencrypt(keys._store, fail_on=3)
    )
    with pytest.raises(RuntimeError, match="injected failure"):
        failing.rotate_master(os.urandom(32))
    _readable(keys, secrets)


def test_rotate_master_can_move_file_keys_to_an_env_key(make_keys: MakeKeys) -> None:
    keys = make_keys()
    secrets = _fill(keys)
    new = b64key()
    keys.rotate_master(base64.b64decode(new))
    _readable(make_keys(env={"LLMSPELL_MASTER_KEY": new}), secrets)


def test_rotate_master_refuses_a_new_key_of_the_wrong_size(keys: KeyStore) -> None:
    with pytest.raises(ValueError, match="must be 32 bytes"):
        keys.rotate_master(b"short")
