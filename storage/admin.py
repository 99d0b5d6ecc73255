"""Operator commands behind `llmspell storage ...`: migrations, schema, roles, embedded server.

Each function takes `StorageSettings` and does one job; the CLI only parses arguments and
prints. Migrations run as the owner (`admin_url`); on PostgreSQL they grant the app role.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlalchemy.types import NullType

from llmspell.migrations import HEAD
from llmspell.storage import registry
from llmspell.storage.backend import backend_for
from llmspell.storage.database import WRITE_OPTION
from llmspell.storage.errors import StorageError
from llmspell.storage.revision import read_revision
from llmspell.storage.schema import CREATED_WITH, created_on
from llmspell.storage.settings import StorageSettings

if TYPE_CHECKING:
    from llmspell.storage.postgres.embedded import EmbeddedStatus
    from llmspell.storage.schema_migrations import MigrationResult


def _run(settings: StorageSettings, action: str, revision: str) -> list[MigrationResult]:
    """Migrate every persistent database the components use (each holds the whole schema)."""
    from llmspell.storage.schema_migrations import MigrationResult, check_target, migrate

    target_revision = check_target(revision, allow_base=action == "downgrade")
    persistent = [name for name in settings.backends_in_use() if backend_for(name).persistent]
    if not persistent:
        raise StorageError(
            "the memory backend is created at the current schema on every open; there is no "
            "database to migrate (use --profile / storage.backend = sqlite or postgres)"
        )
    results = []
    for name in persistent:
        backend = backend_for(name)
        with backend.owner(settings, create=True) as target, target.engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            before, after, notes = migrate(conn, action, target_revision, target.app_role)
        results.append(MigrationResult(name, target.database, before, after, notes))
    return results


def upgrade(settings: StorageSettings, revision: str = "head") -> list[MigrationResult]:
    """Upgrade the configured databases to `revision` (default head) as the owner."""
    return _run(settings, "upgrade", revision)


def downgrade(settings: StorageSettings, revision: str) -> list[MigrationResult]:
    """Downgrade the configured databases to `revision` ("base" removes every table)."""
    return _run(settings, "downgrade", revision)


def current_revision(settings: StorageSettings) -> str | None:
    """The revision the main backend's database is at (None: no llmspell schema)."""
    backend = backend_for(settings.backend)
    with (
        backend.owner(settings, create=False) as target,
        target.engine.connect() as conn,
        conn.begin(),
    ):
        return read_revision(conn)


def _component_tables(component: str | None) -> list[str]:
    if component is None:
        return [table.name for table in registry.tables()]
    if component not in registry.component_names():
        raise StorageError(
            f"unknown component {component!r}; allowed: {', '.join(registry.component_names())}"
        )
    return list(registry.get(component).table_names)


def schema_report(settings: StorageSettings, component: str | None = None) -> dict[str, Any]:
    """Revision, tables (columns, primary key, RLS), indexes, RLS policies and (PostgreSQL)
    partitions of the database of `component` (default: the main backend's, all tables)."""
    wanted = _component_tables(component)
    backend_name = settings.backend_of(component) if component else settings.backend
    backend = backend_for(backend_name)
    with (
        backend.owner(settings, create=False) as target,
        target.engine.connect() as conn,
        conn.begin(),
    ):
        return _report(conn, wanted, backend_name, target.database)


def _report(conn: Connection, wanted: list[str], backend: str, database: str) -> dict[str, Any]:
    revision = read_revision(conn)
    inspector = inspect(conn)
    existing = set(inspector.get_table_names())
    names = [t for t in wanted if t in existing]
    rls: dict[str, tuple[bool, bool]] = {}
    policies: list[dict[str, Any]] = []
    partitions: list[dict[str, Any]] = []
    if conn.dialect.name == "postgresql" and names:
        # Reflection knows vector/halfvec only once pgvector has registered them; a process that
        # has not yet opened the vectors store (the CLI) would otherwise reflect NullType.
        import pgvector.sqlalchemy  # noqa: F401

        rows = conn.execute(
            text(
                "SELECT p.relname, c.relname, pg_get_expr(c.relpartbound, c.oid) "
                "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent "
                "WHERE p.relnamespace = current_schema()::regnamespace AND p.relname = ANY(:names) "
                "ORDER BY p.relname, c.relname"
            ),
            {"names": names},
        )
        partitions = [{"table": row[0], "name": row[1], "bound": row[2]} for row in rows]
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
                "component": registry.component_of_table(name),
                "columns": [
                    {
                        "name": c["name"],
                        "type": _type_name(conn, name, c),
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
        "partitions": partitions,
    }


def _type_name(conn: Connection, table: str, column: Any) -> str:
    """The column's type compiled for the dialect (so PostgreSQL shows TIMESTAMP WITH TIME ZONE);
    a type SQLAlchemy cannot reflect (an extension's) is named as the database names it."""
    if not isinstance(column["type"], NullType):
        return str(column["type"].compile(dialect=conn.dialect))
    if conn.dialect.name == "postgresql":
        found = conn.execute(
            text(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = CAST(:table AS regclass) AND attname = :column"
            ),
            {"table": table, "column": column["name"]},
        ).scalar()
        if found:
            return str(found)
    return "unknown type"


def schema_sql(settings: StorageSettings, component: str | None = None) -> str:
    """The DDL of the schema at head for the configured backend's dialect (no connection)."""
    wanted = _component_tables(component)
    backend = backend_for(settings.backend_of(component) if component else settings.backend)
    postgres = backend.dialect == "postgresql"
    dialect = postgresql.dialect() if postgres else sqlite.dialect()
    statements: list[str] = []
    if postgres:
        from llmspell.storage.postgres.rls import enable_rls_sql

        statements.append("CREATE EXTENSION IF NOT EXISTS vector")
    for name in wanted:
        table = registry.metadata().tables[name]
        statements.append(str(CreateTable(table).compile(dialect=dialect)).strip())
        statements.extend(
            str(CreateIndex(index).compile(dialect=dialect)).strip()
            for index in table.indexes
            if created_on(index, dialect.name)
        )
        for created in table.info.get(CREATED_WITH, ()):
            statements.extend(created(dialect.name))
        if postgres:
            statements.extend(enable_rls_sql(name, dialect.identifier_preparer.quote))
    return "".join(f"{statement};\n\n" for statement in statements).rstrip() + "\n"


def init_roles(settings: StorageSettings) -> list[str]:
    """Create the app role (the user of `storage.postgres.url`) and its grants, as the admin."""
    if "postgres" not in settings.backends_in_use():
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
    if "postgres" not in settings.backends_in_use() or not settings.pg_embedded:
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
