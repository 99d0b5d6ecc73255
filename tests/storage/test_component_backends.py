"""`[storage.components]` routes each component to its own backend's database: the rows of a
component overridden to another backend live there, and nowhere else."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from llmspell.storage import StorageSettings, open_storage
from llmspell.storage.registry import component_names
from llmspell.storage.sqlite import sqlite_engine


def _kv_rows_in_file(path: Path) -> int:
    engine = sqlite_engine(str(path))
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM kv_entries")).scalar_one())
    finally:
        engine.dispose()


def test_kv_on_memory_beside_a_sqlite_backend_never_touches_the_file(tmp_path: Path) -> None:
    path = tmp_path / "main.db"
    # Every component moved off the main backend (kv is the one the test writes).
    settings = StorageSettings(
        backend="sqlite",
        sqlite_path=str(path),
        component_backends=dict.fromkeys(component_names(), "memory"),
    )
    assert settings.backends_in_use() == ["memory"]
    with open_storage(settings, "t") as storage:
        storage.kv.put("g", "k", 1)
        assert storage.kv.get("g", "k") == 1
        assert storage.database("kv").backend.name == "memory"
    assert not path.exists(), "no component uses the sqlite backend, so no file is made"


def test_kv_on_sqlite_beside_a_memory_backend_persists_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "kv.db"
    settings = StorageSettings(
        backend="memory", sqlite_path=str(path), component_backends={"kv": "sqlite"}
    )
    with open_storage(settings, "t") as storage:
        storage.kv.put("g", "k", {"v": 1})
    with open_storage(settings, "t") as again:
        assert again.kv.get("g", "k") == {"v": 1}
    assert _kv_rows_in_file(path) == 1


@pytest.mark.postgres
def test_kv_on_postgres_beside_a_sqlite_backend_writes_to_postgres_only(
    pg_settings: StorageSettings, tmp_path: Path, unique_tenant: str
) -> None:
    path = tmp_path / "main.db"
    mixed = pg_settings.with_changes(
        backend="sqlite",
        sqlite_path=str(path),
        component_backends=dict.fromkeys(component_names(), "postgres"),
    )
    assert mixed.backends_in_use() == ["postgres"]
    with open_storage(mixed, unique_tenant) as storage:
        storage.kv.put("g", "k", "in postgres")
        assert storage.database("kv").backend.name == "postgres"
    with open_storage(pg_settings, unique_tenant) as postgres:
        assert postgres.kv.get("g", "k") == "in postgres"
    assert not path.exists()


def test_components_on_one_backend_share_one_database(tmp_path: Path) -> None:
    settings = StorageSettings(backend="sqlite", sqlite_path=str(tmp_path / "f.db"))
    with open_storage(settings, "a") as storage:
        other_tenant = storage.for_tenant("b")
        assert storage.database("kv").source is other_tenant.database("kv").source


def test_an_override_naming_an_unknown_backend_or_component_is_refused() -> None:
    with pytest.raises(ValueError, match="backend of component 'kv' 'nosql' is not supported"):
        StorageSettings(component_backends={"kv": "nosql"})
    with pytest.raises(ValueError, match="unknown storage component 'vectorz'"):
        StorageSettings(component_backends={"vectorz": "memory"})
