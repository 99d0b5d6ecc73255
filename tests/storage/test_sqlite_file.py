"""The SQLite file backend: WAL, pragmas, directories, and several processes on one file."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import event

from llmspell.storage import StorageError, StorageSettings, open_storage

WRITER = """
import sys
from llmspell.storage import StorageSettings, open_storage
path, tenant, key, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
with open_storage(StorageSettings(backend="sqlite", sqlite_path=path), tenant) as storage:
    for i in range(count):
        storage.kv.put("g", key, i)
    print(storage.kv.get("g", "from-parent"))
"""


def test_parent_directories_are_created_and_pragmas_set(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "llmspell.db"
    settings = StorageSettings(backend="sqlite", sqlite_path=str(path))
    with open_storage(settings, "t") as storage, storage.database("kv").engine.connect() as conn:
        pragmas = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout")
        }
    assert path.is_file()
    assert pragmas["journal_mode"] == "wal"
    assert pragmas["foreign_keys"] == 1
    assert int(pragmas["busy_timeout"]) >= 1000


def test_two_processes_on_one_file_see_each_others_writes(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    with open_storage(StorageSettings(backend="sqlite", sqlite_path=path), "t") as storage:
        storage.kv.put("g", "from-parent", "hello child")
        child = subprocess.run(
            [sys.executable, "-c", WRITER, path, "t", "from-child", "3"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert child.stdout.strip() == "hello child"
        assert storage.kv.get("g", "from-child") == 2
        assert [h.value for h in storage.kv.history("g", "from-child")] == [2, 1, 0]


def test_concurrent_writer_processes_lose_no_update(tmp_path: Path) -> None:
    path = str(tmp_path / "race.db")
    open_storage(StorageSettings(backend="sqlite", sqlite_path=path), "t").close()
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, path, "t", "same-key", "40"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
    with open_storage(StorageSettings(backend="sqlite", sqlite_path=path), "t") as storage:
        assert storage.kv.history("g", "same-key", limit=1)[0].version == 80


def test_a_lock_held_past_the_busy_timeout_is_a_storage_error_naming_file_and_timeout(
    tmp_path: Path,
) -> None:
    path = tmp_path / "busy.db"
    settings = StorageSettings(backend="sqlite", sqlite_path=str(path), sqlite_busy_timeout_s=0.2)
    with open_storage(settings, "t") as storage:
        storage.kv.put("g", "k", "before")
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        try:
            with pytest.raises(StorageError) as info:
                storage.kv.put("g", "k", "during")
        finally:
            other.execute("ROLLBACK")
            other.close()
        message = str(info.value)
        assert f"the SQLite database {path} is busy" in message
        assert "busy timeout (0.2 s, storage.busy_timeout_s)" in message
        assert "sqlalche.me" not in message
        assert storage.kv.get("g", "k") == "before"


def test_a_read_only_database_is_a_storage_error_saying_how_to_change_the_path(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ro.db"
    settings = StorageSettings(backend="sqlite", sqlite_path=str(path))
    with open_storage(settings, "t") as storage:
        storage.kv.put("g", "k", "kept")
        engine = storage.database("kv").engine
        engine.dispose()
        # SQLite's own read-only mode: what a file without write permission gives a non-root
        # user (the tests may run as root, which file modes do not stop).
        event.listen(engine, "connect", lambda dbapi, _: dbapi.execute("PRAGMA query_only = ON"))
        with pytest.raises(StorageError) as info:
            storage.kv.put("g", "k", "lost")
        message = str(info.value)
        assert f"cannot use the SQLite database {path}: attempt to write a readonly" in message
        assert "set storage.path or LLMSPELL_STORAGE__PATH to a writable file" in message
        assert storage.kv.get("g", "k") == "kept"


def test_a_data_directory_that_cannot_be_created_is_a_storage_error_naming_the_setting() -> None:
    settings = StorageSettings(backend="sqlite", sqlite_path="/proc/nope/llmspell/llmspell.db")
    with pytest.raises(StorageError) as info:
        open_storage(settings, "t")
    message = str(info.value)
    assert "/proc/nope/llmspell/llmspell.db" in message
    assert "storage.path" in message and "user data directory" in message
