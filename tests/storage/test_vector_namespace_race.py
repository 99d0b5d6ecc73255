"""Runtimes that each add the first vectors of the same new namespace at the same moment: one
creates the namespace, the others add to it, and no write fails (on PostgreSQL a lock on a
missing row locks nothing, so both used to insert the namespace and one hit its key)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from llmspell.storage import SqlStorage, StorageSettings, open_storage
from llmspell.storage.components.vectors import NewVector

WRITERS = 4
ROUNDS = 10


@pytest.fixture(params=["sqlite", "postgres"])
def runtimes(
    request: pytest.FixtureRequest, tmp_path: Path, unique_tenant: str
) -> list[SqlStorage]:
    """Storages of one tenant opened separately (as separate runtimes do) on one database."""
    if request.param == "postgres":
        settings: StorageSettings = request.getfixturevalue("pg_settings")
    else:
        settings = StorageSettings(backend="sqlite", sqlite_path=str(tmp_path / "shared.db"))
    opened = [open_storage(settings, unique_tenant) for _ in range(WRITERS)]
    for storage in opened:
        request.addfinalizer(storage.close)
    return opened


def test_concurrent_first_adds_to_one_namespace_all_land(runtimes: list[SqlStorage]) -> None:
    errors: list[BaseException] = []
    for round_ in range(ROUNDS):
        namespace = f"race-{round_}"
        start = threading.Barrier(WRITERS)

        def add(
            storage: SqlStorage,
            writer: int,
            namespace: str = namespace,
            start: threading.Barrier = start,
        ) -> None:
            vector = np.zeros(384, dtype=np.float32)
            vector[writer] = 1.0
            start.wait()
            try:
                storage.vectors.add(namespace, "m", [NewVector(vector, f"writer {writer}")])
            except BaseException as exc:
                errors.append(exc)

        threads = [
            threading.Thread(target=add, args=(storage, i)) for i, storage in enumerate(runtimes)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors, errors
        info = runtimes[0].vectors.namespace(namespace)
        assert info is not None and info.count == WRITERS
