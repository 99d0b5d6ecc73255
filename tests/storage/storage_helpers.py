"""Helpers of the storage suites."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st

from llmspell.storage import SqlStorage, StorageSettings, open_storage, registry

json_scalars: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
# Any JSON value a store must round-trip.
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def component_params() -> list[str]:
    """What `component` is parametrized over: every component the registry knows."""
    return registry.component_names()


def open_two_tenants(
    request: pytest.FixtureRequest, tmp_path: Path, tenant: str
) -> tuple[SqlStorage, SqlStorage]:
    """Tenants `<tenant>-a` and `<tenant>-b` opened separately on one database of the backend
    `request.param` names ("sqlite" or "postgres", as the app role); closed after the test."""
    if request.param == "postgres":
        settings: StorageSettings = request.getfixturevalue("pg_settings")
    else:
        settings = StorageSettings(backend="sqlite", sqlite_path=str(tmp_path / "shared.db"))
    a = open_storage(settings, f"{tenant}-a")
    b = open_storage(settings, f"{tenant}-b")
    request.addfinalizer(a.close)
    request.addfinalizer(b.close)
    return a, b
