"""Roles and privileges: the app role (never owner, superuser or BYPASSRLS) and its grants."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from llmspell.storage.errors import StorageError
from llmspell.storage.postgres.urls import connect, database_of, password_of, role_of
from llmspell.storage.registry import tables as schema_tables

TABLE_PRIVILEGES = sql.SQL("SELECT, INSERT, UPDATE, DELETE")


def ensure_login_role(
    conn: psycopg.Connection[Any], role: str, password: str | None = None
) -> bool:
    """Create `role` (LOGIN, no superuser/createdb/createrole/bypassrls) unless it exists.

    Returns True when created. An existing role that is a superuser or BYPASSRLS is an error:
    it would see every tenant's rows.
    """
    row = conn.execute(
        "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", (role,)
    ).fetchone()
    ident = sql.Identifier(role)
    if row is not None:
        if row[0] or row[1]:
            raise StorageError(
                f"role {role!r} exists and is a superuser or has BYPASSRLS; the app role must "
                "be subject to row-level security: name a different user in storage.postgres.url"
            )
        if password:
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(ident, sql.Literal(password)))
        return False
    statement = sql.SQL(
        "CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION"
    ).format(ident)
    if password:
        statement = sql.SQL("{} PASSWORD {}").format(statement, sql.Literal(password))
    conn.execute(statement)
    return True


def grant_app_privileges(raw: psycopg.Connection[Any], app_role: str) -> list[str]:
    """Grant `app_role` exactly what the app needs on the llmspell schema, as the owner.

    DML on the llmspell tables that exist, sequences and functions of the schema, SELECT on
    alembic_version (the revision check on open). Runs in the caller's transaction (the
    migration's, when alembic runs); returns notes for the operator.
    """
    row = raw.execute("SELECT current_user, current_schema()").fetchone()
    current_user, schema = (str(row[0]), str(row[1])) if row else ("", "public")
    if app_role == current_user:
        return [
            f"the app connects as {app_role!r}, the owner of the tables: RLS is forced, but an "
            "owner can switch it off. Use a separate app role: set storage.postgres.admin_url to "
            "the owner and run `llmspell storage init-roles`"
        ]
    if raw.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (app_role,)).fetchone() is None:
        return [
            f"the app role {app_role!r} (the user of storage.postgres.url) does not exist; "
            "create it with `llmspell storage init-roles`, then run `llmspell storage upgrade`"
        ]
    existing = {
        name
        for (name,) in raw.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        ).fetchall()
    }
    tables = [table.name for table in schema_tables() if table.name in existing]
    role = sql.Identifier(app_role)
    raw.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), role))
    if tables:
        raw.execute(
            sql.SQL("GRANT {} ON TABLE {} TO {}").format(
                TABLE_PRIVILEGES, sql.SQL(", ").join(sql.Identifier(t) for t in tables), role
            )
        )
    if "alembic_version" in existing:
        raw.execute(sql.SQL("GRANT SELECT ON TABLE alembic_version TO {}").format(role))
    raw.execute(
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(
            sql.Identifier(schema), role
        )
    )
    # The schema's SECURITY DEFINER functions (partition upkeep) are revoked from PUBLIC by
    # their migrations; the app role is the one that calls them.
    raw.execute(
        sql.SQL("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {} TO {}").format(
            sql.Identifier(schema), role
        )
    )
    return []


def init_roles(admin_url: str, app_url: str) -> list[str]:
    """Create the app role of `app_url` and let it connect, as the role of `admin_url`.

    Needs CREATEROLE (or a superuser). Returns what was done, one line each.
    """
    app_role = role_of(app_url)
    admin_role = role_of(admin_url, "storage.postgres.admin_url")
    if app_role == admin_role:
        raise StorageError(
            f"storage.postgres.url and admin_url both log in as {app_role!r}; the app role must "
            "be a separate role that does not own the tables"
        )
    done: list[str] = []
    with connect(admin_url, autocommit=True, what="PostgreSQL (admin_url)") as conn:
        try:
            created = ensure_login_role(conn, app_role, password_of(app_url))
            database = database_of(app_url)
            conn.execute(
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                    sql.Identifier(database), sql.Identifier(app_role)
                )
            )
        except psycopg.errors.InsufficientPrivilege as exc:
            raise StorageError(
                f"role {admin_role!r} may not create roles or grant on the database "
                f"({exc.diag.message_primary}); run init-roles with a superuser or CREATEROLE "
                "role in storage.postgres.admin_url"
            ) from None
        done.append(f"{'created' if created else 'kept existing'} app role {app_role!r}")
        done.append(f"granted CONNECT on database {database!r} to {app_role!r}")
    with connect(admin_url, what="PostgreSQL (admin_url)") as conn:
        try:
            notes = grant_app_privileges(conn, app_role)
            conn.commit()
        except psycopg.errors.InsufficientPrivilege:
            conn.rollback()
            notes = [
                "table privileges are granted by `llmspell storage upgrade`, run as the owner "
                f"of the tables (not {admin_role!r})"
            ]
    return done + (notes or [f"granted DML on the llmspell tables to {app_role!r}"])
