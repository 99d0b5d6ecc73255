"""Fixtures for the key store: a KeyStore on each storage backend, with a private key file or
an explicit LLMSPELL_MASTER_KEY."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from key_helpers import MakeKeys

from llmspell.runtime.keys import KeyStore
from llmspell.runtime.keys.master import master_key_source
from llmspell.storage import SqlStorage


@pytest.fixture(autouse=True)
def _isolated(isolated_env: Path) -> Path:
    """No LLMSPELL_* variables, private XDG dirs (the default key file lands there)."""
    return isolated_env


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "master.key"


@pytest.fixture
def make_keys(storage: SqlStorage, key_file: Path) -> MakeKeys:
    """`make_keys(env={...}, store=..., on=storage)`: a KeyStore of the test's tenant (or of
    `on`), using the test's key file unless `env` holds LLMSPELL_MASTER_KEY."""

    def make(
        env: Mapping[str, str] | None = None,
        store: Any = None,
        on: SqlStorage | None = None,
    ) -> KeyStore:
        target = on or storage
        master = master_key_source(target.tenant_id, env=env or {}, key_file=key_file)
        return KeyStore(store or target.api_keys, target.tenant_id, master)

    return make


@pytest.fixture
def keys(make_keys: MakeKeys) -> KeyStore:
    """A KeyStore on the test's backend with the test's key file."""
    return make_keys()
