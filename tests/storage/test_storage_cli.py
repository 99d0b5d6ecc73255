"""`llmspell storage ...`: each command through the argparse group `cli_storage` registers."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from pg_databases import fresh_pg_database as fresh_database
from psycopg import sql

from llmspell import cli_storage
from llmspell.migrations import HEAD, REVISIONS
from llmspell.storage import registry
from llmspell.storage.postgres.embedded import PgLogins
from llmspell.storage.postgres.urls import as_url, connect, parse_url, with_login


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user config, no LLMSPELL_* variables, data under tmp_path."""
    for name in list(os.environ):
        if name.startswith("LLMSPELL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)


def run_cli(
    capsys: pytest.CaptureFixture[str], *argv: str, config: Path | None = None
) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="llmspell")
    parser.add_argument("-c", "--config")
    parser.add_argument("--profile")
    parser.add_argument("-v", "--verbose", action="store_true")
    cli_storage.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args([*(["--config", str(config)] if config else []), *argv])
    code = args.handler(args)
    out, err = capsys.readouterr()
    return code, out, err


def write_config(path: Path, storage: str, postgres: str = "") -> Path:
    text = f"[storage]\n{storage}\n"
    if postgres:
        text += f"[storage.postgres]\n{postgres}\n"
    path.write_text(text)
    return path


@pytest.fixture
def sqlite_config(tmp_path: Path) -> Path:
    db = tmp_path / "state" / "llmspell.db"
    return write_config(tmp_path / "sqlite.toml", f'backend = "sqlite"\npath = "{db}"')


@pytest.fixture
def fresh_pg_database(pg_urls: PgLogins) -> Iterator[str]:
    with fresh_database(pg_urls, "llmspell_cli") as name:
        yield name


@pytest.fixture
def pg_config(tmp_path: Path, pg_urls: PgLogins, fresh_pg_database: str) -> Path:
    app = with_login(pg_urls.app_url, dbname=fresh_pg_database)
    owner = with_login(pg_urls.owner_url, dbname=fresh_pg_database)
    return write_config(
        tmp_path / "pg.toml", 'backend = "postgres"', f'url = "{app}"\nadmin_url = "{owner}"'
    )


def test_upgrade_creates_the_sqlite_schema_then_reports_it_is_current(
    capsys: pytest.CaptureFixture[str], sqlite_config: Path
) -> None:
    code, out, _ = run_cli(capsys, "storage", "upgrade", config=sqlite_config)
    assert code == 0 and f"upgraded from base to {HEAD}" in out
    code, out, _ = run_cli(capsys, "storage", "upgrade", "--revision", HEAD, config=sqlite_config)
    assert code == 0 and f"already at revision {HEAD}" in out


def test_downgrade_to_base_removes_the_schema(
    capsys: pytest.CaptureFixture[str], sqlite_config: Path
) -> None:
    run_cli(capsys, "storage", "upgrade", config=sqlite_config)
    code, out, _ = run_cli(capsys, "storage", "downgrade", HEAD, config=sqlite_config)
    assert code == 0 and f"already at revision {HEAD}; unchanged" in out
    code, out, _ = run_cli(capsys, "storage", "downgrade", "base", config=sqlite_config)
    assert code == 0 and f"downgraded from {HEAD} to base" in out
    code, out, _ = run_cli(capsys, "storage", "schema", config=sqlite_config)
    assert code == 0 and "none (no llmspell schema)" in out and "missing" in out


def test_schema_reports_revision_tables_and_indexes(
    capsys: pytest.CaptureFixture[str], sqlite_config: Path
) -> None:
    run_cli(capsys, "storage", "upgrade", config=sqlite_config)
    code, out, _ = run_cli(capsys, "storage", "schema", "--component", "kv", config=sqlite_config)
    assert code == 0
    assert f"revision: {HEAD}" in out
    assert "kv_entries  [kv]" in out and "kv_history  [kv]" in out
    assert "pk_kv_entries on kv_entries (tenant_id, scope, key)  primary key" in out


def test_schema_sql_prints_ddl_for_the_backend_dialect(
    capsys: pytest.CaptureFixture[str], sqlite_config: Path, tmp_path: Path
) -> None:
    code, out, _ = run_cli(capsys, "storage", "schema", "--sql", config=sqlite_config)
    assert code == 0 and "CREATE TABLE kv_entries" in out and "ROW LEVEL SECURITY" not in out
    assert "CREATE TRIGGER kv_entries_record_version AFTER UPDATE OF version ON kv_entries" in out
    pg = write_config(tmp_path / "pgsql.toml", 'backend = "postgres"')
    code, out, _ = run_cli(capsys, "storage", "schema", "--sql", "--component", "kv", config=pg)
    assert code == 0
    assert "CREATE EXTENSION IF NOT EXISTS vector;" in out
    assert "TIMESTAMP WITH TIME ZONE" in out
    assert "CREATE FUNCTION llmspell_kv_record_version() RETURNS trigger" in out
    assert "EXECUTE FUNCTION llmspell_kv_record_version();" in out
    for table in ("kv_entries", "kv_history"):
        assert f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY;" in out
        assert f"CREATE POLICY tenant_isolation ON {table}" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["upgrade", "--revision", "0042"],
            f"unknown revision '0042'; allowed: head, {', '.join(REVISIONS)}",
        ),
        (["downgrade", "latest"], "unknown revision 'latest'"),
        (
            ["schema", "--component", "nope"],
            f"unknown component 'nope'; allowed: {', '.join(registry.component_names())}",
        ),
        (["init-roles"], "init-roles is for the postgres backend"),
        (["pg", "status"], "manage the embedded PostgreSQL"),
    ],
)
def test_bad_arguments_exit_1_with_one_line(
    capsys: pytest.CaptureFixture[str], sqlite_config: Path, argv: list[str], message: str
) -> None:
    code, out, err = run_cli(capsys, "storage", *argv, config=sqlite_config)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and message in err and err.startswith("llmspell storage")


def test_a_missing_downgrade_target_is_an_argparse_error(
    capsys: pytest.CaptureFixture[str], sqlite_config: Path
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run_cli(capsys, "storage", "downgrade", config=sqlite_config)
    assert exit_info.value.code == 2


def test_an_invalid_config_exits_1_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = write_config(tmp_path / "bad.toml", 'backend = "oracle"')
    code, _, err = run_cli(capsys, "storage", "upgrade", config=bad)
    assert code == 1 and err.count("\n") == 1 and "storage.backend" in err


def test_an_unreachable_database_exits_1_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = write_config(
        tmp_path / "down.toml",
        'backend = "postgres"',
        'url = "postgresql://app@127.0.0.1:1/x"\nadmin_url = "postgresql://owner:pw@127.0.0.1:1/x"',
    )
    for argv in (["upgrade"], ["schema"], ["downgrade", "base"]):
        code, _, err = run_cli(capsys, "storage", *argv, config=config)
        assert code == 1 and err.count("\n") == 1 and "cannot connect" in err
        assert "pw" not in err, "passwords never appear in messages"


@pytest.mark.postgres
def test_postgres_upgrade_schema_downgrade(
    capsys: pytest.CaptureFixture[str], pg_config: Path
) -> None:
    code, out, err = run_cli(capsys, "storage", "upgrade", config=pg_config)
    assert code == 0, err
    assert f"upgraded from base to {HEAD}" in out
    code, out, _ = run_cli(capsys, "storage", "schema", config=pg_config)
    assert code == 0
    assert "kv_entries  [kv]  rls: enabled, forced" in out
    assert "tenant_isolation on kv_history ALL" in out
    assert "event_log  [events]  rls: enabled, forced" in out
    assert "partitions:\n  event_log_default of event_log: DEFAULT" in out
    code, out, _ = run_cli(capsys, "storage", "downgrade", "base", config=pg_config)
    assert code == 0 and f"downgraded from {HEAD} to base" in out


@pytest.mark.postgres
@pytest.mark.parametrize("only", [[], ["--component", "vectors"]], ids=["all", "vectors"])
def test_a_fresh_llmspell_process_reports_the_vector_columns_of_postgres(
    capsys: pytest.CaptureFixture[str], pg_config: Path, only: list[str]
) -> None:
    """The CLI process has not imported pgvector when it reflects the tables (in this test
    process the session fixtures already have, which hid the crash)."""
    code, _, err = run_cli(capsys, "storage", "upgrade", config=pg_config)
    assert code == 0, err
    result = subprocess.run(
        [sys.executable, "-m", "llmspell", "--config", str(pg_config), "storage", "schema", *only],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "vectors_384  [vectors]  rls: enabled, forced" in result.stdout
    assert "embedding VECTOR(384) NOT NULL" in result.stdout
    assert "embedding HALFVEC(3072) NOT NULL" in result.stdout


@pytest.mark.postgres
def test_init_roles_creates_a_login_role_that_cannot_escape_rls(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    pg_urls: PgLogins,
    fresh_pg_database: str,
) -> None:
    role = f"cli_app_{uuid.uuid4().hex[:8]}"
    app = as_url(
        {
            **parse_url(pg_urls.app_url),
            "user": role,
            "password": "s3cret",
            "dbname": fresh_pg_database,
        }
    )
    admin = with_login(pg_urls.superuser_url, dbname=fresh_pg_database)
    config = write_config(
        tmp_path / "roles.toml", 'backend = "postgres"', f'url = "{app}"\nadmin_url = "{admin}"'
    )
    try:
        code, out, err = run_cli(capsys, "storage", "init-roles", config=config)
        assert code == 0, err
        assert f"created app role '{role}'" in out
        code, out, _ = run_cli(capsys, "storage", "init-roles", config=config)
        assert code == 0 and f"kept existing app role '{role}'" in out
        with psycopg.connect(admin) as conn:
            attributes = conn.execute(
                "SELECT rolcanlogin, rolsuper, rolbypassrls, rolcreaterole FROM pg_roles "
                "WHERE rolname = %s",
                (role,),
            ).fetchone()
        assert attributes == (True, False, False, False)
    finally:
        with connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_init_roles_needs_an_admin_url(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = write_config(tmp_path / "noadmin.toml", 'backend = "postgres"')
    code, _, err = run_cli(capsys, "storage", "init-roles", config=config)
    assert code == 1 and "admin_url is empty" in err


def test_pg_status_of_a_stopped_embedded_server_exits_3(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = write_config(
        tmp_path / "emb.toml",
        'backend = "postgres"',
        f'embedded = true\ndata_dir = "{tmp_path / "pgdata"}"',
    )
    code, out, _ = run_cli(capsys, "storage", "pg", "status", config=config)
    assert code == 3
    assert "not running" in out and "(not initialized)" in out


def test_the_llmspell_command_has_the_storage_group(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "llmspell", "--profile", "postgres", "storage", "schema", "--sql"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert "CREATE POLICY tenant_isolation ON kv_entries" in result.stdout


def test_storage_settings_from_the_runtime_config() -> None:
    from llmspell.runtime.config import load_config
    from llmspell.runtime.config.storage import storage_settings
    from llmspell.storage import KVSettings

    config = load_config(
        profile="embedded-postgres",
        env={},
        overrides={"storage.max_value_mb": 2, "storage.state_history_limit": 5},
    ).config
    settings = storage_settings(config)
    assert settings.backend == "postgres" and settings.pg_embedded is True
    assert settings.settings_of("kv") == KVSettings(
        max_value_bytes=2 * 1024 * 1024, history_limit=5
    )
    assert settings.pg_data_dir == str(config.resolved_pg_data_dir())
    assert settings.sqlite_path == str(config.resolved_storage_path())
