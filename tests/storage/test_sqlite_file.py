"""The SQLite file backend: WAL, pragmas, directories, and several processes on one file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from llmspell.storage import StorageSettings, open_storage

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
