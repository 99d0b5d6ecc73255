"""Every registered storage component, whatever it stores: it has a contract suite, its store
implements its Protocol on every backend, its tables lead with the tenant, `storage schema`
lists them, and on SQLite every statement of every store method carries the tenant (there the
statements themselves are the only tenant guard)."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from llmspell.storage import SqlStorage, StorageSettings, admin, open_storage, registry

TENANT = "tenant-under-test"
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "SAVEPOINT", "RELEASE")


def contract_module(component: str) -> ModuleType:
    """`test_contract_<component>.py` beside this file: the component's contract suite."""
    path = Path(__file__).with_name(f"test_contract_{component}.py")
    if not path.is_file():
        pytest.fail(
            f"storage component {component!r} has no contract suite: write {path.name} (tests "
            "on the `storage` fixture, run on every backend, plus TENANT_FILTER_CALLS)"
        )
    return import_module(path.stem)


def public_methods(cls: type) -> set[str]:
    return {
        name
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def test_each_component_has_a_contract_suite_whose_call_table_covers_every_store_method(
    component: str,
) -> None:
    module = contract_module(component)
    calls = getattr(module, "TENANT_FILTER_CALLS", None)
    assert isinstance(calls, dict), f"{module.__name__} must define TENANT_FILTER_CALLS"
    store = registry.get(component).store
    assert isinstance(store, type)
    assert set(calls) == public_methods(store), (
        "TENANT_FILTER_CALLS must call every public store method, so its SQL is checked"
    )


def isolation_suites() -> dict[str, ModuleType]:
    """`test_*isolation*.py` beside this file, by name: each declares ISOLATED_COMPONENTS."""
    here = Path(__file__).parent
    return {p.stem: import_module(p.stem) for p in sorted(here.glob("test_*isolation*.py"))}


def test_each_component_has_a_tenant_isolation_suite(component: str) -> None:
    # tenant B never reads, lists, counts, updates or deletes tenant A's rows, on PostgreSQL as
    # the app role: a module declaring the component in ISOLATED_COMPONENTS proves it
    suites = isolation_suites()
    declaring = [
        name
        for name, module in suites.items()
        if component in getattr(module, "ISOLATED_COMPONENTS", ())
    ]
    assert declaring, (
        f"storage component {component!r} has no tenant-isolation suite: write "
        f"test_tenant_isolation_{component}.py with ISOLATED_COMPONENTS = ({component!r},)"
    )
    for name in declaring:
        source = Path(suites[name].__file__ or "").read_text()
        assert re.search(rf"\.{component}\.\w+\(", source), (
            f"{name}.py declares {component!r} but never calls its store"
        )


def test_the_store_implements_every_protocol_method_with_its_parameters(
    component: str, storage: SqlStorage
) -> None:
    protocol = registry.get(component).protocol
    store = getattr(storage, component)
    for name, member in vars(protocol).items():
        if name.startswith("_") or not callable(member):
            continue
        implemented = getattr(store, name)
        assert (
            list(inspect.signature(implemented).parameters)
            == list(inspect.signature(member).parameters)[1:]
        ), name


def test_every_table_leads_its_primary_key_and_indexes_with_tenant_id(component: str) -> None:
    for table in registry.get(component).tables:
        assert next(iter(table.columns)).name == "tenant_id", table.name
        assert table.primary_key.columns.keys()[0] == "tenant_id", table.name
        for index in table.indexes:
            assert next(iter(index.columns)).name == "tenant_id", index.name


def test_storage_schema_lists_exactly_the_component_tables(component: str) -> None:
    report = admin.schema_report(StorageSettings(backend="memory"), component)
    assert [t["name"] for t in report["tables"]] == list(registry.get(component).table_names)
    assert {t["component"] for t in report["tables"]} == {component}
    assert report["missing_tables"] == []


@pytest.mark.parametrize("backend", ["sqlite", "memory"])
def test_every_statement_of_every_store_method_filters_by_the_tenant(
    component: str, backend: str, tmp_path: Path, sql_recorder: Callable[[Any], Any]
) -> None:
    module = contract_module(component)
    settings = StorageSettings(backend=backend, sqlite_path=str(tmp_path / "f.db"))
    special = getattr(module, "TENANT_FILTER_SETTINGS", None)
    if special is not None:
        settings = settings.with_component(component, special)
    setup: Callable[[Any], None] = getattr(module, "TENANT_FILTER_SETUP", lambda store: None)
    with open_storage(settings, TENANT) as storage:
        store = getattr(storage, component)
        for method, call in sorted(module.TENANT_FILTER_CALLS.items()):
            setup(store)
            with sql_recorder(storage.database(component).engine) as seen:
                call(store)
            data_statements = [
                (statement, params)
                for statement, params in seen
                if not statement.lstrip().upper().startswith(TRANSACTION_CONTROL)
            ]
            assert data_statements, f"{method} ran no SQL"
            for statement, params in data_statements:
                assert "tenant_id" in statement, (method, statement)
                # executemany: a list of parameter sets, each of which must carry the tenant
                many = isinstance(params, list) and all(
                    isinstance(one, (tuple, list, dict)) for one in params
                )
                for one in params if many else [params]:
                    values = one if isinstance(one, (tuple, list)) else one.values()
                    assert TENANT in values, (method, statement, params)


@pytest.mark.parametrize("tenant_id", ["", "a b", "x" * 129, "t;drop", "ü"])
def test_invalid_tenant_ids_are_rejected_naming_what_is_allowed(tenant_id: str) -> None:
    settings = StorageSettings(backend="memory")
    with pytest.raises(ValueError, match=re.escape("1-128 characters from A-Z a-z 0-9 _ . : -")):
        open_storage(settings, tenant_id)


def test_a_components_declared_config_mapping_and_session_data_owner_work(
    component: str,
) -> None:
    from llmspell.runtime.config import load_config
    from llmspell.runtime.sessions.data import owner_class

    declared = registry.get(component)
    if declared.from_config is not None:
        settings = declared.from_config(load_config(profile="memory", env={}).config.storage)
        assert declared.settings is not None and isinstance(settings, declared.settings)
    if declared.session_data_owner is not None:
        owner = owner_class(declared.session_data_owner)
        assert callable(owner.delete_session_data)
