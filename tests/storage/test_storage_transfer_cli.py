"""`llmspell storage migrate|backup|restore|retention`: the CLI over `storage.ops`, on SQLite
files, the session PostgreSQL and the memory backend."""

from __future__ import annotations

import argparse
import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from transfer_helpers import contents, fill

from llmspell import cli_storage
from llmspell.storage import SqlStorage, StorageSettings, open_storage
from llmspell.storage.postgres.embedded import PgLogins


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user config, no LLMSPELL_* variables, data under tmp_path."""
    for name in list(os.environ):
        if name.startswith("LLMSPELL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)


def run_cli(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="llmspell")
    parser.add_argument("-c", "--config")
    parser.add_argument("--profile")
    parser.add_argument("-v", "--verbose", action="store_true")
    cli_storage.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["--config", str(config), *argv])
    code = args.handler(args)
    out, err = capsys.readouterr()
    return code, out, err


def sqlite_store(path: Path) -> SqlStorage:
    return open_storage(StorageSettings(backend="sqlite", sqlite_path=str(path)), "opener")


@pytest.fixture
def sqlite_config(tmp_path: Path) -> Path:
    path = tmp_path / "sqlite.toml"
    path.write_text(f'[storage]\nbackend = "sqlite"\npath = "{tmp_path / "main.db"}"\n')
    return path


@pytest.fixture
def postgres_config(tmp_path: Path, pg_urls: PgLogins) -> Path:
    path = tmp_path / "pg.toml"
    path.write_text(
        '[storage]\nbackend = "postgres"\n[storage.postgres]\n'
        f'url = "{pg_urls.app_url}"\nadmin_url = "{pg_urls.owner_url}"\n'
    )
    return path


def test_migrate_sqlite_to_sqlite_prints_counts_and_equal_checksums(
    capsys: pytest.CaptureFixture[str], sqlite_config: Path, tmp_path: Path
) -> None:
    with sqlite_store(tmp_path / "main.db") as source:
        fill(source, "alice")
        expected = contents(source, "alice")

    code, out, err = run_cli(
        capsys, sqlite_config, "storage", "migrate", "--from", "sqlite",
        "--to", f"sqlite:{tmp_path / 'copy.db'}", "--batch-size", "7",
    )  # fmt: skip

    assert code == 0, err
    assert "kv: 61 rows of 1 tenant(s) copied; target holds 61 (checksums equal)" in out
    with sqlite_store(tmp_path / "copy.db") as target:
        assert contents(target, "alice") == expected


def test_migrate_to_postgres_and_take_a_tenant_home_to_sqlite(
    capsys: pytest.CaptureFixture[str],
    postgres_config: Path,
    pg_urls: PgLogins,
    tmp_path: Path,
    unique_tenant: str,
) -> None:
    with sqlite_store(tmp_path / "laptop.db") as laptop:
        fill(laptop, unique_tenant)
        expected = contents(laptop, unique_tenant)

    up = run_cli(
        capsys, postgres_config, "storage", "migrate", "--from", f"sqlite:{tmp_path / 'laptop.db'}",
        "--to", "postgres", "--tenant", unique_tenant,
    )  # fmt: skip
    home = run_cli(
        capsys, postgres_config, "storage", "migrate", "--from", "postgres",
        "--to", f"sqlite:{tmp_path / 'home.db'}", "--tenant", unique_tenant,
    )  # fmt: skip
    # by the app role's URL alone: the tenant is named, so no owner lists the tenants
    by_url = run_cli(
        capsys, postgres_config, "storage", "migrate", "--from", f"postgres:{pg_urls.app_url}",
        "--to", f"sqlite:{tmp_path / 'home2.db'}", "--tenant", unique_tenant, "--components", "kv",
    )  # fmt: skip
    again = run_cli(
        capsys, postgres_config, "storage", "migrate", "--from", f"sqlite:{tmp_path / 'laptop.db'}",
        "--to", "postgres", "--tenant", unique_tenant,
    )  # fmt: skip

    assert up[0] == 0 and home[0] == 0, (up, home)
    assert "artifacts:" in up[1] and "(checksums equal)" in home[1]
    with sqlite_store(tmp_path / "home.db") as target:
        assert contents(target, unique_tenant) == expected
    assert by_url[0] == 0, by_url
    assert "kv: 61 rows of 1 tenant(s) copied; target holds 61 (checksums equal)" in by_url[1]
    assert again[0] == 1
    assert again[2].startswith("llmspell storage migrate: the target already holds")
    assert "--resume" in again[2] and len(again[2].strip().splitlines()) == 1


def test_migrate_dry_run_writes_nothing(
    capsys: pytest.CaptureFixture[str], sqlite_config: Path, tmp_path: Path
) -> None:
    with sqlite_store(tmp_path / "main.db") as source:
        fill(source, "alice")

    code, out, _ = run_cli(
        capsys, sqlite_config, "storage", "migrate", "--from", "sqlite",
        "--to", f"sqlite:{tmp_path / 'copy.db'}", "--dry-run", "--components", "kv,events",
    )  # fmt: skip

    assert code == 0
    assert out.splitlines() == [
        "events: would copy 3 rows",
        "kv: would copy 61 rows",
        "dry run: nothing was written",
    ]
    with sqlite_store(tmp_path / "copy.db") as target:
        assert target.for_tenant("alice").kv.list_keys("app") == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--from", "mysql", "--to", "sqlite"], "'mysql' is not a storage; use sqlite or"),
        (["--from", "sqlite", "--to", "memory"], "'memory' is not a storage; use sqlite or post"),
        (["--from", "memory:x", "--to", "sqlite"], "the memory backend has no location"),
        (["--from", "sqlite", "--to", "sqlite"], "has the same sqlite database as source"),
        (["--from", "memory", "--to", "sqlite:o.db", "--batch-size", "0"], "batch_size must be"),
        (["--from", "memory", "--to", "sqlite:o.db", "--components", "kv,x"], r"unknown \['x'\]"),
    ],
)
def test_migrate_bad_arguments_exit_1_with_one_line(
    capsys: pytest.CaptureFixture[str], sqlite_config: Path, argv: list[str], message: str
) -> None:
    code, out, err = run_cli(capsys, sqlite_config, "storage", "migrate", *argv)
    assert code == 1 and out == ""
    assert err.startswith("llmspell storage migrate: ") and len(err.strip().splitlines()) == 1
    assert re.search(message, err), err


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_backup_then_restore_through_the_cli(
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
    kind: str,
    tmp_path: Path,
    unique_tenant: str,
) -> None:
    config: Path = request.getfixturevalue(f"{kind}_config")
    with sqlite_store(tmp_path / "laptop.db") as laptop:
        fill(laptop, unique_tenant)
        expected = contents(laptop, unique_tenant)
    run_cli(
        capsys, config, "storage", "migrate", "--from", f"sqlite:{tmp_path / 'laptop.db'}",
        "--to", kind, "--tenant", unique_tenant,
    )  # fmt: skip

    code, out, err = run_cli(
        capsys, config, "storage", "backup", str(tmp_path / "b"), "--tenant", unique_tenant
    )
    assert code == 0, err
    assert f"backup: {tmp_path / 'b'}" in out
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["components"]["kv"]["tenants"][unique_tenant]["rows"] == 61

    refused = run_cli(capsys, config, "storage", "restore", str(tmp_path / "b"))
    assert refused[0] == 1 and "already holds" in refused[2]
    # restore into a fresh SQLite file: the configured target of a second config
    other = tmp_path / "other.toml"
    other.write_text(f'[storage]\nbackend = "sqlite"\npath = "{tmp_path / "restored.db"}"\n')
    code, out, err = run_cli(capsys, other, "storage", "restore", str(tmp_path / "b"))
    assert code == 0, err
    assert "kv: 61 rows of 1 tenant(s) restored; target holds 61 (checksums equal)" in out
    with sqlite_store(tmp_path / "restored.db") as restored:
        assert contents(restored, unique_tenant) == expected


def test_backup_of_the_memory_backend_is_empty_and_restorable(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "memory.toml"
    config.write_text('[storage]\nbackend = "memory"\n')
    code, out, _ = run_cli(capsys, config, "storage", "backup", str(tmp_path / "b"))
    assert code == 0 and "backup:" in out and "(0 rows)" in out
    code, out, _ = run_cli(capsys, config, "storage", "restore", str(tmp_path / "b"))
    assert code == 0 and "nothing to copy" in out


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_retention_deletes_events_older_than_the_cutoff(
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
    kind: str,
    tmp_path: Path,
    unique_tenant: str,
) -> None:
    config: Path = request.getfixturevalue(f"{kind}_config")
    settings = (
        request.getfixturevalue("pg_settings")
        if kind == "postgres"
        else StorageSettings(backend="sqlite", sqlite_path=str(tmp_path / "main.db"))
    )
    with open_storage(settings, unique_tenant) as storage:
        storage.events.append("old", 1, timestamp=datetime.now(UTC) - timedelta(days=40))
        storage.events.append("new", 2)

        code, out, err = run_cli(
            capsys, config, "storage", "retention", "--older-than", "30", "--tenant", unique_tenant
        )

        assert code == 0, err
        assert f"{unique_tenant}: deleted 1 events" in out
        assert [e.event_type for e in storage.events.query()] == ["new"]
    bad = run_cli(capsys, config, "storage", "retention", "--before", "2026-01-01T00:00:00")
    assert bad[0] == 0  # a zone-less time is UTC
    with pytest.raises(SystemExit):
        run_cli(capsys, config, "storage", "retention", "--older-than", "-3")
