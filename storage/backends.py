"""`open_storage`: build the storage of one tenant for the configured backend."""

from __future__ import annotations

import logging
from types import TracebackType

from sqlalchemy import Engine, insert

from llmspell.migrations import HEAD
from llmspell.storage.components.kv import SqlKVStore
from llmspell.storage.database import WRITE_OPTION, Database, EngineSource
from llmspell.storage.errors import SchemaVersionError
from llmspell.storage.revision import alembic_version, classify, outdated_message, read_revision
from llmspell.storage.schema import metadata
from llmspell.storage.settings import StorageSettings
from llmspell.storage.sqlite import sqlite_engine
from llmspell.storage.tenancy import Tenant

logger = logging.getLogger("llmspell.storage")


class SqlStorage:
    """The `Storage` of one tenant on a SQL database: its components and their lifecycle."""

    def __init__(
        self, db: Database, tenant: Tenant, settings: StorageSettings, *, owns_db: bool = True
    ) -> None:
        self.db = db
        self.settings = settings
        self.tenant_id = tenant.id
        self.backend = settings.backend
        self._owns_db = owns_db
        self.kv = SqlKVStore(
            db,
            tenant,
            max_value_bytes=settings.max_value_bytes,
            history_limit=settings.history_limit,
        )

    def for_tenant(self, tenant_id: str) -> SqlStorage:
        """Storage for another tenant on the same connections (one pool for many tenants).

        Closing it does nothing; the connections belong to this storage.
        """
        tenant = Tenant(tenant_id)
        return SqlStorage(self.db.for_tenant(tenant.id), tenant, self.settings, owns_db=False)

    def close(self) -> None:
        """Release connections and pools (idempotent)."""
        if self._owns_db:
            self.db.close()

    def __enter__(self) -> SqlStorage:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SqlStorage backend={self.backend} tenant={self.tenant_id!r}>"


def open_storage(settings: StorageSettings, tenant_id: str) -> SqlStorage:
    """Open storage for `tenant_id`.

    SQLite and memory connect (and check or upgrade the schema) now; PostgreSQL connects on
    first use, so building a runtime stays cheap.
    """
    tenant = Tenant(tenant_id)
    if settings.backend == "memory":
        source = EngineSource(lambda: sqlite_engine(None), prepare=create_at_head, serialize=True)
        source.engine  # noqa: B018 - create the database now
        db = Database("memory", source, None)
    elif settings.backend == "sqlite":
        source = EngineSource(
            lambda: sqlite_engine(settings.sqlite_path),
            prepare=lambda engine: ensure_sqlite_schema(engine, settings),
        )
        source.engine  # noqa: B018 - connect and check the schema now
        db = Database("sqlite", source, None)
    else:
        from llmspell.storage.postgres.backend import postgres_database

        db = postgres_database(settings, tenant)
    return SqlStorage(db, tenant, settings)


def create_at_head(engine: Engine) -> None:
    """Create a fresh (in-memory) database straight from the schema module and stamp it at head.

    The alembic cookbook's way to build a new database; a test proves it equals the migrations.
    """
    with engine.begin() as conn:
        metadata.create_all(conn)
        alembic_version.create(conn)
        conn.execute(insert(alembic_version).values(version_num=HEAD))


def ensure_sqlite_schema(engine: Engine, settings: StorageSettings) -> None:
    """Check the file's schema revision; upgrade it when behind and `auto_upgrade` allows."""
    with engine.connect() as conn, conn.begin():
        revision = read_revision(conn)
    if classify(revision) == "current":
        return
    if not settings.auto_upgrade:
        raise SchemaVersionError(
            outdated_message(revision, f"the SQLite file {settings.sqlite_path}")
        )
    from llmspell.storage.schema_migrations import run_alembic  # alembic loads only when needed

    with engine.connect() as conn:
        conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            run_alembic(conn, "upgrade", HEAD)
    logger.info("migrated %s from %s to %s", settings.sqlite_path, revision, HEAD)
