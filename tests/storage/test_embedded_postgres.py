"""Embedded mode: a private server in data_dir, kept by `pg start`, or started per process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from llmspell.migrations import HEAD
from llmspell.storage import StorageSettings, admin
from llmspell.storage.postgres import embedded

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
