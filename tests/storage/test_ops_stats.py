"""`storage.ops.stats`: rows and bytes per component per tenant, on every backend."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from ops_helpers import fresh_pg_settings

from llmspell.storage import SqlStorage, StorageSettings, open_storage
from llmspell.storage.components.artifacts import NewArtifact
from llmspell.storage.ops.stats import Usage, stats


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStorage]:
    """Tenant a's storage on a database of its own (stats reads every tenant)."""
    if request.param == "postgres":
        with (
            fresh_pg_settings(request.getfixturevalue("pg_urls")) as settings,
            open_storage(settings, "a") as opened,
        ):
            yield opened
        return
    settings = StorageSettings(backend=request.param, sqlite_path=str(tmp_path / "s.db"))
    with open_storage(settings, "a") as opened:
        yield opened


def by_key(usage: list[Usage]) -> dict[tuple[str, str], Usage]:
    return {(u.tenant, u.component): u for u in usage}


def test_stats_count_each_tenants_rows_per_component(store: SqlStorage) -> None:
    b = store.for_tenant("b")
    for key in range(3):
        store.kv.put("global", f"k{key}", {"n": key})
    b.kv.put("global", "only", "x" * 1000)
    store.artifacts.store(NewArtifact("s1", "a.bin", "blob"), b"z" * 5000)
    usage = by_key(stats(store.settings, storage=store))
    # kv keeps a history row beside each entry
    assert usage["a", "kv"].rows == 6 and usage["b", "kv"].rows == 2
    assert usage["b", "kv"].bytes > 1000 and usage["a", "kv"].bytes > 0
    assert usage["a", "artifacts"].rows >= 3 and usage["a", "artifacts"].bytes > 0
    assert ("b", "artifacts") not in usage
    assert [u.tenant for u in stats(store.settings, storage=store)] == sorted(
        u.tenant for u in usage.values()
    )


def test_stats_for_one_tenant_leave_the_others_out(store: SqlStorage) -> None:
    store.kv.put("global", "k", 1)
    store.for_tenant("b").kv.put("global", "k", 2)
    usage = stats(store.settings, tenant="b", storage=store)
    assert {u.tenant for u in usage} == {"b"}
    assert json.dumps([u.__dict__ for u in usage])  # plain values, as `--json` prints them


def test_stats_refuse_an_invalid_tenant(store: SqlStorage) -> None:
    with pytest.raises(ValueError, match="stats: tenant id 'a b' is invalid"):
        stats(store.settings, tenant="a b", storage=store)
