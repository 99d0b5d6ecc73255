"""The database-wide checks: the schema revision and (PostgreSQL) row-level security."""

from __future__ import annotations

from sqlalchemy import Connection, inspect, text

from llmspell.migrations import HEAD
from llmspell.storage import registry
from llmspell.storage.backend import backend_for
from llmspell.storage.revision import read_revision
from llmspell.storage.settings import StorageSettings
from llmspell.storage.sql_storage import SqlStorage

from .result import CheckResult, Problem


def schema_revision(
    settings: StorageSettings, storage: SqlStorage | None, component: str, selected: list[str]
) -> CheckResult:
    backend_name = settings.backend_of(component)
    backend = backend_for(backend_name)
    wanted = [
        table
        for name in selected
        if settings.backend_of(name) == backend_name
        for table in registry.get(name).table_names
    ]
    if storage is not None and not backend.persistent:
        with storage.database(component).transaction() as conn:
            problems = _revision_problems(conn, wanted)
    else:
        with (
            backend.owner(settings, create=False) as owner,
            owner.engine.connect() as conn,
            conn.begin(),
        ):
            problems = _revision_problems(conn, wanted)
    return CheckResult("schema_revision", "", problems=tuple(problems))


def _revision_problems(conn: Connection, wanted: list[str]) -> list[Problem]:
    revision = read_revision(conn)
    if revision != HEAD:
        return [
            Problem(
                "schema_revision",
                f"the schema is at revision {revision or 'none'}, not {HEAD}: run "
                "`llmspell storage upgrade`",
            )
        ]
    existing = set(inspect(conn).get_table_names())
    return [
        Problem("schema_revision", f"table {name} is missing at revision {HEAD}", table=name)
        for name in wanted
        if name not in existing
    ]


def row_level_security(storage: SqlStorage, selected: list[str], repair: bool) -> CheckResult:
    from llmspell.storage.postgres.rls import POLICY_NAME

    postgres = [
        name for name in selected if backend_for(storage.settings.backend_of(name)).sets_tenant
    ]
    if not postgres:
        return CheckResult("row_level_security", "", applies=False)
    tables = [t for name in postgres for t in registry.get(name).table_names]
    problems: list[Problem] = []
    repaired: list[str] = []
    backend = backend_for(storage.settings.backend_of(postgres[0]))
    with (
        backend.owner(storage.settings, create=False) as owner,
        owner.engine.connect() as conn,
        conn.begin(),
    ):
        quote = conn.dialect.identifier_preparer.quote
        flags = conn.execute(
            text(
                "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
                "WHERE relnamespace = current_schema()::regnamespace AND relname = ANY(:names)"
            ),
            {"names": tables},
        ).all()
        with_policy = set(
            conn.execute(
                text(
                    "SELECT tablename FROM pg_policies WHERE schemaname = current_schema() "
                    "AND policyname = :policy AND tablename = ANY(:names)"
                ),
                {"policy": POLICY_NAME, "names": tables},
            ).scalars()
        )
        for name, enabled, forced in sorted(flags):
            for word, on, statement in (
                ("enabled", enabled, "ENABLE"),
                ("forced", forced, "FORCE"),
            ):
                if on:
                    continue
                if repair:
                    conn.execute(text(f"ALTER TABLE {quote(name)} {statement} ROW LEVEL SECURITY"))
                    repaired.append(f"row-level security {word} again on {name}")
                else:
                    problems.append(
                        Problem(
                            "row_level_security",
                            f"row-level security is not {word} on {name}: tenants are not "
                            "isolated there (`storage validate --repair` turns it back on)",
                            table=name,
                        )
                    )
            if name not in with_policy:
                problems.append(
                    Problem(
                        "row_level_security",
                        f"table {name} has no {POLICY_NAME} policy: with RLS on, the app sees "
                        "no row of it (run `llmspell storage downgrade` and `upgrade`)",
                        table=name,
                    )
                )
    return CheckResult("row_level_security", "", problems=tuple(problems), repaired=tuple(repaired))
