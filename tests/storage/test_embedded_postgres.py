"""Embedded mode: a private server in data_dir, kept by `pg start`, or started per process."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from llmspell.migrations import HEAD
from llmspell.storage import StorageError, StorageSettings, admin
from llmspell.storage.postgres import embedded, os_user

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SCRIPT = """
import sys
from llmspell.storage import StorageSettings, open_storage
data_dir, tenant, action = sys.argv[1], sys.argv[2], sys.argv[3]
settings = StorageSettings(backend="postgres", pg_embedded=True, pg_data_dir=data_dir)
with open_storage(settings, tenant) as storage:
    if action == "write":
        storage.kv.put("g", "counter", (storage.kv.get("g", "counter") or 0) + 1)
    print(storage.kv.get("g", "counter"))
"""


def run(data_dir: Path, tenant: str, action: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(data_dir), tenant, action],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_processes_share_data_and_only_pg_start_keeps_the_server(pg_server_dir: Path) -> None:
    data_dir = pg_server_dir / "pg"
    settings = StorageSettings(backend="postgres", pg_embedded=True, pg_data_dir=str(data_dir))
    try:
        # Started on demand by a process: it stops when that process exits; the data stays.
        assert run(data_dir, "a", "write") == "1"
        assert not admin.pg_status(settings).running
        assert run(data_dir, "a", "write") == "2"
        assert run(data_dir, "b", "read") == "None", "tenant b sees nothing of a"

        status = admin.pg_start(settings)
        assert status.running and status.keep_running
        assert run(data_dir, "a", "write") == "3"
        assert admin.pg_status(settings).running, "a process leaves a `pg start` server running"
        assert admin.upgrade(settings)[0].after == HEAD
        assert admin.pg_stop(settings) is True
        assert not admin.pg_status(settings).running
        assert admin.pg_stop(settings) is False
    finally:
        embedded.stop(data_dir)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_starting_never_loosens_a_parent_and_makes_its_own_enterable(pg_server_dir: Path) -> None:
    parent = pg_server_dir / "enterable"
    parent.mkdir()
    parent.chmod(0o711)  # others may enter, not list: the wheel made such a parent 0755
    data_dir = parent / "made-here" / "pg"
    umask = os.umask(0o077)
    try:
        embedded.start(data_dir)
    finally:
        os.umask(umask)
        embedded.stop(data_dir)
    assert mode(parent) == 0o711
    assert mode(pg_server_dir) == 0o711
    made_here = mode(parent / "made-here")
    assert made_here == (0o711 if os_user.runs_as_root() else 0o700)


def test_a_private_parent_keeps_its_mode_and_root_is_told_what_to_do(pg_server_dir: Path) -> None:
    private = pg_server_dir / "private"
    private.mkdir()
    private.chmod(0o700)
    data_dir = private / "pg"
    if os_user.runs_as_root():  # the server runs as `embedded_postgres`, who cannot enter
        with pytest.raises(StorageError) as caught:
            embedded.start(data_dir)
        message = str(caught.value)
        assert f"cannot enter {private} (mode 0700), a parent of the data directory" in message
        assert "does not loosen the mode of an existing directory" in message
        assert "set storage.postgres.data_dir (LLMSPELL_STORAGE__POSTGRES__DATA_DIR) to" in message
    else:  # the server runs as this user, who can
        try:
            embedded.start(data_dir)
        finally:
            embedded.stop(data_dir)
    assert mode(private) == 0o700
