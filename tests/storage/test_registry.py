"""The registry is the single source of what storage holds: a component registered once (here
a throwaway one that is not a module of the package) gets its tables, its `storage schema`
listing, its config name, its `storage.<name>` store and its contract-suite run, and fails the
contract check until it has a suite of its own."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import replace
from typing import Any, Protocol

import pytest
from sqlalchemy import Column, Integer, PrimaryKeyConstraint, Table, Text, func, insert, select
from storage_helpers import component_params
from test_components import contract_module

from llmspell.runtime.config import ConfigError, load_config
from llmspell.storage import StorageSettings, admin, open_storage, registry
from llmspell.storage.database import Database
from llmspell.storage.registry import Component
from llmspell.storage.schema import metadata, tenant_column
from llmspell.storage.tenancy import Tenant


class NoteStore(Protocol):
    def add(self, text: str) -> None: ...
    def count(self) -> int: ...


def _throwaway() -> Component:
    notes = Table(
        "throwaway_notes",
        metadata,
        tenant_column(),
        Column("id", Integer, nullable=False),
        Column("text", Text, nullable=False),
        PrimaryKeyConstraint("tenant_id", "id"),
    )

    class SqlNoteStore:
        def __init__(self, db: Database, tenant: Tenant, settings: Any) -> None:
            self._db = db
            self._add = insert(notes).values(tenant.values())
            self._count = select(func.count()).where(tenant.where(notes))

        def add(self, text: str) -> None:
            with self._db.transaction(write=True) as conn:
                n = conn.execute(self._count).scalar_one()
                conn.execute(self._add, {"id": n + 1, "text": text})

        def count(self) -> int:
            with self._db.transaction() as conn:
                return int(conn.execute(self._count).scalar_one())

    return Component(
        name="throwaway",
        title="a component that exists only in this test",
        protocol=NoteStore,
        tables=(notes,),
        store=SqlNoteStore,
    )


def test_a_component_registered_once_is_known_everywhere() -> None:
    with registry.registered(_throwaway()):
        assert "throwaway" in registry.component_names()
        assert "throwaway" in component_params(), "the contract suites run for it"
        assert "throwaway_notes" in registry.metadata().tables

        routed = load_config(env={}, overrides={"storage.components": {"throwaway": "memory"}})
        assert routed.config.storage.components == {"throwaway": "memory"}

        with open_storage(StorageSettings(backend="memory"), "t") as storage:
            storage.throwaway.add("first")
            assert storage.throwaway.count() == 1
            assert storage.for_tenant("other").throwaway.count() == 0

        report = admin.schema_report(StorageSettings(backend="memory"), "throwaway")
        assert [t["name"] for t in report["tables"]] == ["throwaway_notes"]
        assert report["tables"][0]["component"] == "throwaway"
        assert "CREATE TABLE throwaway_notes" in admin.schema_sql(
            StorageSettings(backend="memory"), "throwaway"
        )
        with pytest.raises(pytest.fail.Exception, match="has no contract suite"):
            contract_module("throwaway")

    assert "throwaway" not in registry.component_names()
    assert "throwaway_notes" not in registry.metadata().tables
    with pytest.raises(ConfigError, match="unknown component 'throwaway'"):
        load_config(env={}, overrides={"storage.components": {"throwaway": "memory"}})


def test_a_table_that_does_not_start_with_tenant_id_is_refused() -> None:
    from sqlalchemy import MetaData

    table = Table("untenanted", MetaData(), Column("id", Integer, primary_key=True))
    with pytest.raises(ValueError, match="must start with tenant_id"):
        Component(name="x", title="x", protocol=NoteStore, tables=(table,), store=object)


def test_registering_a_taken_name_is_refused() -> None:
    component = _throwaway()
    try:
        with pytest.raises(ValueError, match="already exists"):
            registry.register(replace(component, name="kv"))
    finally:
        metadata.remove(component.tables[0])


def test_an_unknown_component_is_an_attribute_error_listing_the_known_ones() -> None:
    with (
        open_storage(StorageSettings(backend="memory"), "t") as storage,
        pytest.raises(AttributeError, match=r"unknown storage component 'kvv'; components: .*kv"),
    ):
        _ = storage.kvv


def test_a_private_module_in_the_components_package_is_a_helper_not_a_component(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a module components share (`_ranking.py`) must not be taken for a component without
    # COMPONENT (storage would fail to open, naming it)
    listed = list(
        pkgutil.iter_modules(registry.import_module(registry.COMPONENTS_PACKAGE).__path__)
    )
    helper = pkgutil.ModuleInfo(listed[0].module_finder, "_ranking", False)
    monkeypatch.setattr(registry.pkgutil, "iter_modules", lambda path: [*listed, helper])
    names = registry.component_names()
    assert "_ranking" not in names
    assert {"kv", "artifacts", "vectors"} <= set(names)


def test_every_name_a_component_package_exports_is_exported_from_llmspell_storage() -> None:
    # vectors/, graph/ and artifacts/ are packages whose store class lives in a submodule: the
    # names come from the package's `__all__`, not the store module's.
    import llmspell.storage as storage

    for component in registry.components():
        module = importlib.import_module(f"{registry.COMPONENTS_PACKAGE}.{component.name}")
        for name in module.__all__:
            assert getattr(storage, name) is getattr(module, name), (component.name, name)
    assert storage.VectorRecord.__module__.endswith("components.vectors.model")
    assert storage.EntityVersion.__module__.endswith("components.graph.model")


@pytest.mark.parametrize(
    ("package", "names"),
    [
        (
            "vectors",
            "SUPPORTED_DIMENSIONS VECTOR_TABLES DocumentSummary NamespaceInfo NewVector "
            "SqlVectorStore VectorFilter VectorHit VectorModelMismatch VectorRecord VectorSettings "
            "VectorStore check_dimension hnsw_index_name vector_namespaces vector_table",
        ),
        (
            "graph",
            "MAX_DEPTH Direction EntityVersion GraphStore Neighbourhood RelationshipVersion "
            "SqlGraphStore graph_entities graph_relationships",
        ),
    ],
)
def test_a_component_split_into_a_package_still_offers_every_name_its_module_did(
    package: str, names: str
) -> None:
    module = importlib.import_module(f"{registry.COMPONENTS_PACKAGE}.{package}")
    missing = [name for name in names.split() if not hasattr(module, name)]
    assert missing == []
    assert set(names.split()) <= set(module.__all__)
