"""Tenant B never reads, lists, uses, deactivates, rotates, re-encrypts or removes tenant A's
stored API keys (SQLite file and PostgreSQL as the app role)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from llmspell.storage import ApiKeyConflict, ApiKeyRecord, SqlStorage

# the components whose tenant isolation this module proves (tests/storage/test_components.py)
ISOLATED_COMPONENTS = ("api_keys",)

NOW = datetime(2026, 12, 6, tzinfo=UTC)


def record(key_id: str, **changes: Any) -> ApiKeyRecord:
    base = ApiKeyRecord(key_id, "openai", b"a's ciphertext", b"n" * 12, 1, NOW)
    return replace(base, **changes)


@pytest.fixture
def two_tenants(tenant_pair: tuple[SqlStorage, SqlStorage]) -> tuple[SqlStorage, SqlStorage]:
    """Tenants A and B on one database, A holding a rotated key."""
    a, b = tenant_pair
    a.api_keys.add(record("a-1"))
    a.api_keys.rotate("a-1", record("a-2", rotated_from="a-1"))
    return a, b


def test_tenant_b_cannot_read_or_list_tenant_a_keys(
    two_tenants: tuple[SqlStorage, SqlStorage],
) -> None:
    _, b = two_tenants
    assert b.api_keys.get("a-2") is None
    assert b.api_keys.active("openai") is None
    assert b.api_keys.list(include_inactive=True) == []
    assert b.api_keys.list("openai", include_inactive=True) == []


def test_tenant_b_cannot_change_tenant_a_keys(
    two_tenants: tuple[SqlStorage, SqlStorage],
) -> None:
    a, b = two_tenants
    before = a.api_keys.list(include_inactive=True)
    assert b.api_keys.deactivate("a-2") is False
    b.api_keys.record_use("a-2")
    with pytest.raises(ApiKeyConflict, match="not an active key"):
        b.api_keys.rotate("a-2", record("b-3", rotated_from="a-2"))
    assert b.api_keys.reencrypt(lambda r: (b"stolen", b"n", 9)) == 0
    assert b.api_keys.remove("openai") == 0
    assert a.api_keys.list(include_inactive=True) == before


def test_tenant_b_has_its_own_active_key_for_the_same_service(
    two_tenants: tuple[SqlStorage, SqlStorage],
) -> None:
    a, b = two_tenants
    b.api_keys.add(record("b-1", ciphertext=b"b's"))
    a_key, b_key = a.api_keys.active("openai"), b.api_keys.active("openai")
    assert a_key is not None and a_key.key_id == "a-2"
    assert b_key is not None and b_key.ciphertext == b"b's"
    assert a.api_keys.remove("openai") == 2
    assert [r.key_id for r in b.api_keys.list()] == ["b-1"]
