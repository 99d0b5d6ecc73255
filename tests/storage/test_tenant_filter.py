"""On SQLite the statements themselves are the tenant guard: every one must carry the tenant."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from llmspell.storage import SqlStorage, StorageSettings, open_storage
from llmspell.storage.components.kv import SqlKVStore

TENANT = "tenant-under-test"
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")

# Every public method of the kv store, called with arguments that reach its SQL.
KV_CALLS: dict[str, Callable[[SqlKVStore], Any]] = {
    "put": lambda kv: kv.put("g", "k", {"v": 1}),
    "get": lambda kv: kv.get("g", "k"),
    "exists": lambda kv: kv.exists("g", "k"),
    "list_keys": lambda kv: (kv.list_keys("g"), kv.list_keys("g", "k")),
    "count": lambda kv: kv.count("g"),
    "history": lambda kv: kv.history("g", "k"),
    "delete": lambda kv: kv.delete("g", "k"),
    "clear": lambda kv: kv.clear("g"),
}


@pytest.fixture(params=["sqlite", "memory"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> SqlStorage:
    settings = StorageSettings(
        backend=str(request.param), sqlite_path=str(tmp_path / "f.db"), history_limit=2
    )
    opened = open_storage(settings, TENANT)
    request.addfinalizer(opened.close)
    return opened


@pytest.mark.parametrize("tenant_id", ["", "a b", "x" * 129, "t;drop", "ü"])
def test_invalid_tenant_ids_are_rejected_naming_what_is_allowed(tenant_id: str) -> None:
    settings = StorageSettings(backend="memory")
    with pytest.raises(ValueError, match=re.escape("1-128 characters from A-Z a-z 0-9 _ . : -")):
        open_storage(settings, tenant_id)


def test_the_call_table_covers_every_public_kv_method() -> None:
    public = {
        name
        for name, member in inspect.getmembers(SqlKVStore, inspect.isfunction)
        if not name.startswith("_")
    }
    assert public == set(KV_CALLS), "add the new method to KV_CALLS so its SQL is checked"


@pytest.mark.parametrize("method", sorted(KV_CALLS))
def test_every_statement_of_every_kv_method_filters_by_the_tenant(
    storage: SqlStorage, method: str, sql_recorder: Callable[[Any], Any]
) -> None:
    for _ in range(3):  # enough versions that put also prunes history
        storage.kv.put("g", "k", 0)
    with sql_recorder(storage.db.engine) as seen:
        KV_CALLS[method](storage.kv)
    data_statements = [
        (statement, params)
        for statement, params in seen
        if not statement.lstrip().upper().startswith(TRANSACTION_CONTROL)
    ]
    assert data_statements, f"{method} ran no SQL"
    for statement, params in data_statements:
        assert "tenant_id" in statement, statement
        assert TENANT in (params if isinstance(params, (tuple, list)) else params.values()), (
            statement,
            params,
        )
