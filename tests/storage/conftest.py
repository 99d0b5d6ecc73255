"""Storage suites: tests that take `component` run once per registered storage component."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from storage_helpers import component_params
from transfer_helpers import MakeStore

from llmspell.storage import SqlStorage, StorageSettings, open_storage


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "component" in metafunc.fixturenames:
        metafunc.parametrize("component", component_params())


@pytest.fixture(params=["sqlite", "postgres"])
def tenant_pair(
    request: pytest.FixtureRequest, tmp_path: Path, unique_tenant: str
) -> tuple[SqlStorage, SqlStorage]:
    """Tenants A and B opened separately on one database: a SQLite file, then the session
    PostgreSQL as the app role (the isolation suites of every component use it)."""
    if request.param == "postgres":
        settings: StorageSettings = request.getfixturevalue("pg_settings")
    else:
        settings = StorageSettings(backend="sqlite", sqlite_path=str(tmp_path / "shared.db"))
    a = open_storage(settings, f"{unique_tenant}-a")
    b = open_storage(settings, f"{unique_tenant}-b")
    request.addfinalizer(a.close)
    request.addfinalizer(b.close)
    return a, b


@pytest.fixture
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeStore]:
    """`make_store(kind, name)`: an open storage on a fresh memory db, a SQLite file, or the
    session PostgreSQL (as the app role)."""
    opened: list[SqlStorage] = []

    def make(kind: str, name: str) -> SqlStorage:
        if kind == "postgres":
            settings: StorageSettings = request.getfixturevalue("pg_settings")
        elif kind == "sqlite":
            settings = StorageSettings(backend="sqlite", sqlite_path=str(tmp_path / f"{name}.db"))
        else:
            settings = StorageSettings(backend="memory")
        storage = open_storage(settings, "opener")
        opened.append(storage)
        return storage

    yield make
    for storage in opened:
        storage.close()
