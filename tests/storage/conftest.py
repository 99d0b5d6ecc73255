"""Storage suites: tests that take `component` run once per registered storage component."""

from __future__ import annotations

from pathlib import Path

import pytest
from storage_helpers import component_params

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
