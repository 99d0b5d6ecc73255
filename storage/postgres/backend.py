"""The `postgres` backend: connects lazily, checks the schema and the app role, then pools."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg_pool import ConnectionPool
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.pool import NullPool

from llmspell.storage.backend import OwnerTarget, owned
from llmspell.storage.database import EngineSource
from llmspell.storage.errors import SchemaVersionError, StorageError
from llmspell.storage.postgres import embedded
from llmspell.storage.postgres.pool import open_pool, pool_engine
from llmspell.storage.postgres.urls import connect, describe, role_of
from llmspell.storage.postgres.vector_types import register_vector_types
from llmspell.storage.redaction import redact_secrets
from llmspell.storage.revision import classify, outdated_message, read_revision
from llmspell.storage.settings import StorageSettings
from llmspell.storage.values import NUL_REFUSED

if TYPE_CHECKING:
    from llmspell.storage.schema_migrations import MigrationResult

logger = logging.getLogger("llmspell.storage")

# Can the app role escape row-level security? (superuser, BYPASSRLS, or owns a table)
APP_ROLE_CHECK = text(
    """
    SELECT r.rolsuper, r.rolbypassrls,
           EXISTS (SELECT 1 FROM pg_tables t
                   WHERE t.schemaname = current_schema() AND t.tablename = ANY(:tables)
                     AND pg_has_role(current_user, t.tableowner, 'MEMBER'))
    FROM pg_roles r WHERE r.rolname = current_user
    """
)


def owner_engine(owner_url: str) -> Engine:
    """An unpooled engine logged in as the owner (migrations are rare and short)."""
    return create_engine(
        "postgresql+psycopg://",
        creator=lambda: _owner_connection(owner_url),
        poolclass=NullPool,
        hide_parameters=True,
    )


def _owner_connection(owner_url: str) -> psycopg.Connection[Any]:
    conn = connect(owner_url, what="PostgreSQL (admin_url)")
    register_vector_types(conn)
    return conn


def upgrade_postgres(owner_url: str, app_role: str, revision: str = "head") -> MigrationResult:
    """Upgrade a PostgreSQL database given its owner URL, granting `app_role` its privileges."""
    # alembic is slow to import; an app whose schema is current never needs it.
    from llmspell.storage.schema_migrations import MigrationResult, check_target, migrate

    engine = owner_engine(owner_url)
    try:
        with engine.connect() as conn:
            before, after, notes = migrate(
                conn, "upgrade", check_target(revision, allow_base=False), app_role
            )
    finally:
        engine.dispose()
    return MigrationResult("postgres", describe(owner_url), before, after, notes)


class PostgresConnector:
    """Builds the engine on first use: embedded server (if any), pool, schema check/upgrade."""

    def __init__(self, settings: StorageSettings) -> None:
        self.settings = settings
        self.app_url = settings.pg_url
        self.admin_url = settings.pg_admin_url  # "" = no owner login: never auto-upgrade
        self._pool: ConnectionPool[Any] | None = None
        self._lock = threading.Lock()

    def connect(self) -> Engine:
        settings = self.settings
        if settings.pg_embedded:
            logins = embedded.start(settings.pg_data_dir)
            self.app_url, self.admin_url = logins.app_url, logins.owner_url
        # One direct connection first: a clear error now instead of a pool timeout later.
        connect(self.app_url, what="PostgreSQL (storage.postgres.url)").close()
        pool = open_pool(
            self.app_url,
            min_size=settings.pg_pool_min,
            max_size=settings.pg_pool_max,
            name=f"llmspell {describe(self.app_url)}",
        )
        with self._lock:
            self._pool = pool
        return pool_engine(pool)

    def prepare(self, engine: Engine) -> None:
        """Check the schema revision (upgrading as the owner when allowed) and the app role."""
        from llmspell.storage.registry import tables

        with engine.connect() as conn, conn.begin():
            revision = read_revision(conn)
        if classify(revision) != "current":
            where = f"the PostgreSQL database {describe(self.app_url)}"
            if not (self.settings.auto_upgrade and self.admin_url):
                raise SchemaVersionError(outdated_message(revision, where))
            result = upgrade_postgres(self.admin_url, role_of(self.app_url), "head")
            logger.info("migrated %s from %s to %s", where, result.before, result.after)
            for note in result.notes:
                logger.warning("%s", note)
        with engine.connect() as conn, conn.begin():
            row = conn.execute(APP_ROLE_CHECK, {"tables": [t.name for t in tables()]}).one()
        if any(row):
            raise StorageError(
                f"storage.postgres.url logs in as {role_of(self.app_url)!r}, which is a superuser, "
                "has BYPASSRLS or owns the tables: row-level security would not isolate tenants. "
                "Log in as an app role (`llmspell storage init-roles` creates one) and put the "
                "owner in storage.postgres.admin_url"
            )

    def drop_dead_connections(self) -> None:
        """Test the pooled connections and replace those the server closed (after one was
        found dead: a restart closes them all)."""
        with self._lock:
            pool = self._pool
        if pool is not None:
            try:
                pool.check()
            except Exception:  # a closing pool, a server still down: the next call says so
                logger.debug("checking the pool's connections failed", exc_info=True)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()


class PostgresBackend:
    """PostgreSQL + pgvector as the app role, under forced row-level security."""

    name = "postgres"
    dialect = "postgresql"
    sets_tenant = True
    persistent = True
    opens_eagerly = False
    driver_transactions = False

    def source(self, settings: StorageSettings) -> EngineSource:
        connector = PostgresConnector(settings)
        return EngineSource(
            connector.connect,
            prepare=connector.prepare,
            on_close=connector.close,
            explain=lambda exc: explain_failure(exc, connector.app_url),
            on_lost_connection=connector.drop_dead_connections,
        )

    @contextmanager
    def owner(self, settings: StorageSettings, *, create: bool) -> Iterator[OwnerTarget]:
        if settings.pg_embedded:
            logins = embedded.start(settings.pg_data_dir)
            owner_url, app_role = logins.owner_url, embedded.APP_ROLE
        else:
            owner_url, app_role = settings.admin_url, role_of(settings.pg_url)
        # Connect once now: an unreachable server is a one-line error, not a traceback.
        connect(owner_url, what="PostgreSQL (admin_url)").close()
        yield from owned(OwnerTarget(owner_engine(owner_url), describe(owner_url), app_role))


def explain_failure(exc: Exception, url: str) -> Exception | None:
    """A failure on PostgreSQL as a user can act on it: a lost or refused connection or a
    cancelled statement (statement_timeout, lock_timeout, a deadlock) as a StorageError with
    the server's one-line reason; a NUL character as the ValueError every backend gives for it;
    None for anything else (a statement the server refused is a bug here, not a condition)."""
    error = exc.orig if isinstance(exc, DBAPIError) else exc
    if _holds_nul(error):
        return ValueError(f"a value {NUL_REFUSED}")
    if not isinstance(exc, (OperationalError, InterfaceError, psycopg.OperationalError)):
        return None
    message = f"PostgreSQL at {describe(url)} failed: {redact_secrets(_reason(error), url)}"
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        message += "; that connection is closed and the next call opens a new one"
    return StorageError(message)


def _reason(error: Any) -> str:
    # The primary message only: the full text of a server error can quote the statement
    # (`LINE 1: INSERT ...`) and its values (DETAIL, CONTEXT).
    diag = getattr(error, "diag", None)
    primary = diag.message_primary if diag is not None else None
    return " ".join(str(primary or error).split())


def _holds_nul(error: Any) -> bool:
    if not isinstance(error, psycopg.DataError):
        return False
    if error.sqlstate is None:  # psycopg refuses a NUL in text before sending it
        return "NUL (0x00)" in str(error)
    # jsonb's `\u0000`, or a NUL byte in text the server decodes
    said = f"{error.diag.message_primary or ''} {error.diag.message_detail or ''}"
    return "0x00" in said or "\\u0000" in said


POSTGRES = PostgresBackend()
