"""Tenant B's KeyStore on one PostgreSQL (as the app role, RLS forced) cannot see, read,
decrypt, remove, rotate or re-encrypt tenant A's keys."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from key_helpers import b64key

from llmspell.runtime.errors import NotFound
from llmspell.runtime.keys import KeyStore, MasterKeyError
from llmspell.runtime.keys.master import master_key_source
from llmspell.storage import SqlStorage, StorageSettings, open_storage

pytestmark = pytest.mark.postgres


@pytest.fixture
def tenants(pg_settings: StorageSettings, unique_tenant: str) -> Iterator[list[SqlStorage]]:
    opened = [open_storage(pg_settings, f"{unique_tenant}-{name}") for name in ("a", "b")]
    yield opened
    for storage in opened:
        storage.close()


def _keys(storage: SqlStorage, env: dict[str, str], key_file: Path) -> KeyStore:
    master = master_key_source(storage.tenant_id, env=env, key_file=key_file)
    return KeyStore(storage.api_keys, storage.tenant_id, master)


@pytest.mark.parametrize("master", ["env", "file"])
def test_tenant_b_cannot_see_read_remove_rotate_or_reencrypt_tenant_a_keys(
    tenants: list[SqlStorage], tmp_path: Path, master: str
) -> None:
    # One master key for both (env), or one key file holding both tenants' keyrings.
    env = {"LLMSPELL_MASTER_KEY": b64key()} if master == "env" else {}
    a, b = (_keys(storage, env, tmp_path / "master.key") for storage in tenants)
    a.add("openai", "sk-tenant-a-1")
    a.rotate("openai", "sk-tenant-a-2")

    assert b.list(include_inactive=True) == []
    assert b.list("openai", include_inactive=True) == []
    assert b.secret("openai") is None
    assert b.remove("openai") == 0
    with pytest.raises(NotFound):
        b.rotate("openai", "sk-b")
    assert b.rotate_master(os.urandom(32) if master == "env" else None).keys == 0

    assert a.secret("openai") == "sk-tenant-a-2"
    assert len(a.list("openai", include_inactive=True)) == 2
    assert all(k.key_version == 1 for k in a.list(include_inactive=True))


def test_a_ciphertext_copied_into_tenant_b_does_not_decrypt_there(
    tenants: list[SqlStorage], tmp_path: Path
) -> None:
    """Even with the same master key: the ciphertext is bound to its tenant."""
    env = {"LLMSPELL_MASTER_KEY": b64key()}
    a, b = (_keys(storage, env, tmp_path / "master.key") for storage in tenants)
    info = a.add("openai", "sk-tenant-a")
    stolen = tenants[0].api_keys.get(info.key_id)
    assert stolen is not None
    assert tenants[1].api_keys.get(info.key_id) is None, "RLS: B cannot read A's row"
    tenants[1].api_keys.add(stolen)  # as if an operator copied the row across tenants
    with pytest.raises(MasterKeyError, match="service 'openai'"):
        b.secret("openai")
    assert a.secret("openai") == "sk-tenant-a"


def test_tenant_b_rotating_its_master_key_leaves_tenant_a_readable(
    tenants: list[SqlStorage], tmp_path: Path
) -> None:
    a, b = (_keys(storage, {}, tmp_path / "master.key") for storage in tenants)
    a.add("openai", "sk-a")
    b.add("openai", "sk-b")
    b.rotate_master()
    b.rotate_master()
    assert (a.secret("openai"), b.secret("openai")) == ("sk-a", "sk-b")
    assert [k.key_version for k in a.list()] == [1]
    assert [k.key_version for k in b.list()] == [3]
