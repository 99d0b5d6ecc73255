"""Operator commands behind `llmspell storage ...`: migrations, schema, roles, embedded server.

Each function takes `StorageSettings` and does one job; the CLI only parses arguments and
prints. Migrations run as the owner (`admin_url`); on PostgreSQL they grant the app role.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, func, inspect, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.pool import NullPool
from sqlalchemy.schema import CreateIndex, CreateTable

from llmspell.migrations import HEAD, REVISIONS
from llmspell.storage.database import WRITE_OPTION
from llmspell.storage.errors import StorageError
from llmspell.storage.revision import classify, read_revision
from llmspell.storage.schema import COMPONENT_TABLES, metadata
from llmspell.storage.settings import StorageSettings
from llmspell.storage.sqlite import sqlite_engine

if TYPE_CHECKING:
    from llmspell.storage.postgres.embedded import EmbeddedStatus

# pg_advisory_xact_lock key: one migration at a time per database ("llmm" in ASCII).
MIGRATION_LOCK = 0x6C6C6D6D


@dataclass(frozen=True)
class MigrationResult:
    """What `storage upgrade|downgrade` did."""

    backend: str
    database: str
    before: str | None
    after: str | None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Target:
    engine: Engine
    database: str  # for messages, never with a password
    app_role: str | None  # PostgreSQL: the role to grant


@contextmanager
def _owner_engine(settings: StorageSettings, *, create: bool) -> Iterator[_Target]:
    """An engine on the configured database, logged in as the owner.

    `create=False` refuses to create a missing SQLite file (read-only commands).
    """
    if settings.backend == "memory":
        raise StorageError(
            "the memory backend is created at the current schema on every open; there is no "
            "database to migrate (use --profile / storage.backend = sqlite or postgres)"
        )
    if settings.backend == "sqlite":
        path = Path(settings.sqlite_path).expanduser()
        if not create and not path.exists():
            raise StorageError(
                f"the SQLite file {path} does not exist yet; it is created on first use or by "
                "`llmspell storage upgrade`"
            )
        engine = sqlite_engine(str(path))
        target = _Target(engine, str(path), None)
    else:
        from llmspell.storage.postgres import embedded
        from llmspell.storage.postgres.urls import connect, describe, role_of

        if settings.pg_embedded:
            logins = embedded.start(settings.pg_data_dir)
            owner_url, app_role = logins.owner_url, embedded.APP_ROLE
        else:
            owner_url, app_role = settings.admin_url, role_of(settings.pg_url)
        # Connect once now: an unreachable server is a one-line error, not a traceback.
        connect(owner_url, what="PostgreSQL (admin_url)").close()
        engine = create_engine(
            "postgresql+psycopg://",
            creator=lambda: connect(owner_url, what="PostgreSQL (admin_url)"),
            poolclass=NullPool,
        )
        target = _Target(engine, describe(owner_url), app_role)
    try:
        yield target
    finally:
        target.engine.dispose()


def _check_target(revision: str, *, allow_base: bool) -> str:
    allowed = ["head", *REVISIONS] + (["base"] if allow_base else [])
    if revision not in allowed:
        raise StorageError(f"unknown revision {revision!r}; allowed: {', '.join(allowed)}")
    return HEAD if revision == "head" else revision


def _position(revision: str | None) -> int:
    return 0 if revision in (None, "base") else REVISIONS.index(str(revision)) + 1


def _migrate(
    conn: Connection, action: str, revision: str, app_role: str | None
) -> tuple[str | None, str | None, list[str]]:
    from llmspell.storage.schema_migrations import run_alembic

    notes: list[str] = []
    with conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK)))
        before = read_revision(conn)
        classify(before)  # an unknown revision stops here, untouched
        if action == "downgrade" and _position(revision) > _position(before):
            raise StorageError(
                f"cannot downgrade to {revision}: the database is at {before or 'base'}, which "
                "is older; use `llmspell storage upgrade --revision`"
            )
        run_alembic(conn, action, revision, app_role=app_role, notes=notes)
        after = read_revision(conn)
    return before, after, notes


def _run(settings: StorageSettings, action: str, revision: str) -> MigrationResult:
    with _owner_engine(settings, create=True) as target, target.engine.connect() as conn:
        conn.execution_options(**{WRITE_OPTION: True})
        before, after, notes = _migrate(conn, action, revision, target.app_role)
    return MigrationResult(settings.backend, target.database, before, after, notes)


def upgrade(settings: StorageSettings, revision: str = "head") -> MigrationResult:
    """Upgrade the configured database to `revision` (default head) as the owner."""
    return _run(settings, "upgrade", _check_target(revision, allow_base=False))


def downgrade(settings: StorageSettings, revision: str) -> MigrationResult:
    """Downgrade the configured database to `revision` ("base" removes every table)."""
    return _run(settings, "downgrade", _check_target(revision, allow_base=True))


def upgrade_postgres(owner_url: str, app_role: str, revision: str = "head") -> MigrationResult:
    """Upgrade a PostgreSQL database given its owner URL (auto-upgrade on open)."""
    from llmspell.storage.postgres.urls import connect, describe

    engine = create_engine(
        "postgresql+psycopg://",
        creator=lambda: connect(owner_url, what="PostgreSQL (admin_url)"),
        poolclass=NullPool,
    )
    try:
        with engine.connect() as conn:
            before, after, notes = _migrate(
                conn, "upgrade", _check_target(revision, allow_base=False), app_role
            )
    finally:
        engine.dispose()
    return MigrationResult("postgres", describe(owner_url), before, after, notes)


def current_revision(settings: StorageSettings) -> str | None:
    """The revision the configured database is at (None: no llmspell schema)."""
    with (
        _owner_engine(settings, create=False) as target,
        target.engine.connect() as conn,
        conn.begin(),
    ):
        return read_revision(conn)


def _component_tables(component: str | None) -> list[str]:
    if component is None:
        return list(metadata.tables)
    if component not in COMPONENT_TABLES:
        raise StorageError(
            f"unknown component {component!r}; allowed: {', '.join(sorted(COMPONENT_TABLES))}"
        )
    return list(COMPONENT_TABLES[component])


def _component_of(table: str) -> str:
    return next((c for c, tables in COMPONENT_TABLES.items() if table in tables), "")


def schema_report(settings: StorageSettings, component: str | None = None) -> dict[str, Any]:
    """Revision, tables (columns, primary key, RLS), indexes and RLS policies of the database."""
    wanted = _component_tables(component)
    if settings.backend == "memory":
        from llmspell.storage.backends import create_at_head

        engine = sqlite_engine(None)
        create_at_head(engine)
        try:
            with engine.connect() as conn, conn.begin():
                return _report(conn, wanted, "memory", ":memory:")
        finally:
            engine.dispose()
    with (
        _owner_engine(settings, create=False) as target,
        target.engine.connect() as conn,
        conn.begin(),
    ):
        return _report(conn, wanted, settings.backend, target.database)


def _report(conn: Connection, wanted: list[str], backend: str, database: str) -> dict[str, Any]:
    revision = read_revision(conn)
    inspector = inspect(conn)
    existing = set(inspector.get_table_names())
    names = [t for t in wanted if t in existing]
    rls: dict[str, tuple[bool, bool]] = {}
    policies: list[dict[str, Any]] = []
    if conn.dialect.name == "postgresql" and names:
        rows = conn.execute(
            text(
                "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
                "WHERE relnamespace = current_schema()::regnamespace AND relname = ANY(:names)"
            ),
            {"names": names},
        )
        rls = {row[0]: (bool(row[1]), bool(row[2])) for row in rows}
        rows = conn.execute(
            text(
                "SELECT tablename, policyname, cmd, roles::text[], qual, with_check "
                "FROM pg_policies WHERE schemaname = current_schema() AND tablename = ANY(:names) "
                "ORDER BY tablename, policyname"
            ),
            {"names": names},
        )
        policies = [
            {
                "table": row[0],
                "name": row[1],
                "command": row[2],
                "roles": list(row[3]),
                "using": row[4],
                "with_check": row[5],
            }
            for row in rows
        ]
    tables: list[dict[str, Any]] = []
    indexes: list[dict[str, Any]] = []
    for name in names:
        pk = inspector.get_pk_constraint(name)
        tables.append(
            {
                "name": name,
                "component": _component_of(name),
                "columns": [
                    {
                        "name": c["name"],
                        # compiled for the dialect, so PostgreSQL shows TIMESTAMP WITH TIME ZONE
                        "type": c["type"].compile(dialect=inspector.dialect),
                        "nullable": bool(c["nullable"]),
                    }
                    for c in inspector.get_columns(name)
                ],
                "primary_key": list(pk["constrained_columns"]),
                "rls_enabled": rls[name][0] if name in rls else None,
                "rls_forced": rls[name][1] if name in rls else None,
            }
        )
        indexes.append(
            {
                "table": name,
                "name": pk.get("name") or f"{name} primary key",
                "columns": list(pk["constrained_columns"]),
                "unique": True,
                "primary_key": True,
            }
        )
        for index in inspector.get_indexes(name):
            indexes.append(
                {
                    "table": name,
                    "name": index["name"],
                    "columns": [c for c in index["column_names"] if c is not None],
                    "unique": bool(index["unique"]),
                    "primary_key": False,
                }
            )
    return {
        "backend": backend,
        "database": database,
        "revision": revision,
        "head": HEAD,
        "missing_tables": [t for t in wanted if t not in existing],
        "tables": tables,
        "indexes": indexes,
        "policies": policies,
    }


def schema_sql(settings: StorageSettings, component: str | None = None) -> str:
    """The DDL of the schema at head for the configured backend's dialect (no connection)."""
    wanted = _component_tables(component)
    postgres = settings.backend == "postgres"
    dialect = postgresql.dialect() if postgres else sqlite.dialect()
    statements: list[str] = []
    if postgres:
        from llmspell.storage.postgres.rls import enable_rls_sql

        statements.append("CREATE EXTENSION IF NOT EXISTS vector")
    for name in wanted:
        table = metadata.tables[name]
        statements.append(str(CreateTable(table).compile(dialect=dialect)).strip())
        statements.extend(
            str(CreateIndex(index).compile(dialect=dialect)).strip() for index in table.indexes
        )
        if postgres:
            statements.extend(enable_rls_sql(name, dialect.identifier_preparer.quote))
    return "".join(f"{statement};\n\n" for statement in statements).rstrip() + "\n"


def init_roles(settings: StorageSettings) -> list[str]:
    """Create the app role (the user of `storage.postgres.url`) and its grants, as the admin."""
    if settings.backend != "postgres":
        raise StorageError(
            f"storage init-roles is for the postgres backend; this config uses {settings.backend!r}"
        )
    from llmspell.storage.postgres import embedded, roles

    if settings.pg_embedded:
        logins = embedded.start(settings.pg_data_dir)
        return [
            f"embedded server: owner role {embedded.OWNER_ROLE!r} and app role "
            f"{embedded.APP_ROLE!r} are in place",
            f"app url: {logins.app_url}",
        ]
    if not settings.pg_admin_url:
        raise StorageError(
            "storage.postgres.admin_url is empty; set it to a superuser or CREATEROLE login "
            "(the owner of the tables) so init-roles can create the app role of "
            "storage.postgres.url"
        )
    return roles.init_roles(settings.pg_admin_url, settings.pg_url)


def _embedded_dir(settings: StorageSettings) -> str:
    if settings.backend != "postgres" or not settings.pg_embedded:
        raise StorageError(
            "storage pg start|stop|status manage the embedded PostgreSQL: use "
            "--profile embedded-postgres or set storage.postgres.embedded = true"
        )
    return settings.pg_data_dir


def pg_start(settings: StorageSettings) -> EmbeddedStatus:
    """Start the embedded server and keep it running after this process (until `pg_stop`)."""
    from llmspell.storage.postgres import embedded

    data_dir = _embedded_dir(settings)
    embedded.start(data_dir, keep_running=True)
    return embedded.status(data_dir)


def pg_stop(settings: StorageSettings) -> bool:
    """Stop the embedded server; False when it was not running."""
    from llmspell.storage.postgres import embedded

    return embedded.stop(_embedded_dir(settings))


def pg_status(settings: StorageSettings) -> EmbeddedStatus:
    """The embedded server's `EmbeddedStatus` (running, pid, socket, logins)."""
    from llmspell.storage.postgres import embedded

    return embedded.status(_embedded_dir(settings))
