"""`storage validate`: named checks of a store's consistency, one message per problem found.

Each check reads every tenant (see `every_tenant`) and says what is wrong and where. `repair`
fixes what can be rebuilt from the rows themselves: the SQLite keyword index (a VACUUM
renumbers rowids), missing event partitions, and RLS switched off on a table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, exists, func, inspect, select, text

from llmspell.migrations import HEAD
from llmspell.storage import fulltext, registry
from llmspell.storage.backend import backend_for
from llmspell.storage.revision import read_revision
from llmspell.storage.settings import StorageSettings
from llmspell.storage.sql_storage import SqlStorage, open_storage

from .every_tenant import every_tenant

# The tenant the command opens storage as; every check reads all tenants regardless.
VALIDATE_TENANT = "llmspell-validate"


@dataclass(frozen=True)
class Problem:
    """One thing a check found wrong."""

    check: str
    message: str
    tenant: str | None = None
    table: str | None = None


@dataclass(frozen=True)
class CheckResult:
    """What one named check found (`applies=False`: not a thing on this backend)."""

    name: str
    component: str  # "" for the whole database
    applies: bool = True
    problems: tuple[Problem, ...] = ()
    repaired: tuple[str, ...] = ()


@dataclass(frozen=True)
class ValidationReport:
    """Every check's result; `ok` when none found a problem left unrepaired."""

    results: list[CheckResult] = field(default_factory=list)

    @property
    def problems(self) -> list[Problem]:
        return [problem for result in self.results for problem in result.problems]

    @property
    def ok(self) -> bool:
        return not self.problems


Check = Callable[[SqlStorage, str, bool], CheckResult]


def validate(
    settings: StorageSettings,
    component: str | None = None,
    repair: bool = False,
    storage: SqlStorage | None = None,
) -> ValidationReport:
    """Run every check (or only `component`'s and the schema's) on the configured store.

    `storage`: an open storage to check (the memory backend's database lives only in its
    process); by default one is opened without migrating anything. `repair` rebuilds what the
    rows determine and reports it under `repaired`; problems it cannot fix stay problems.
    """
    names = registry.component_names()
    if component is not None and component not in names:
        raise ValueError(f"validate: unknown component {component!r}; allowed: {', '.join(names)}")
    if not isinstance(repair, bool):
        raise ValueError(f"validate: repair must be true or false, got {repair!r}")
    selected = [component] if component else names
    revision = [
        _schema_revision(settings, storage, name, selected)
        for name in _per_backend(settings, selected)
    ]
    report = ValidationReport(revision)
    if any(result.problems for result in revision):
        return report  # the other checks read tables the current schema defines
    with _opened(settings, storage) as opened:
        report.results.append(_row_level_security(opened, selected, repair))
        for _, owner, check in COMPONENT_CHECKS:
            if owner in selected:
                report.results.append(check(opened, owner, repair))
    return report


def _per_backend(settings: StorageSettings, selected: list[str]) -> list[str]:
    """One component of `selected` per backend they use (the schema is per database)."""
    first: dict[str, str] = {}
    for name in selected:
        first.setdefault(settings.backend_of(name), name)
    return list(first.values())


@contextmanager
def _opened(settings: StorageSettings, storage: SqlStorage | None) -> Iterator[SqlStorage]:
    if storage is not None:
        yield storage
        return
    with open_storage(settings.with_changes(auto_upgrade=False), VALIDATE_TENANT) as opened:
        yield opened


def _schema_revision(
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


# --- row-level security (PostgreSQL) ---------------------------------------------------------


def _row_level_security(storage: SqlStorage, selected: list[str], repair: bool) -> CheckResult:
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


# --- artifacts ---------------------------------------------------------------------------------


def _artifact_integrity(storage: SqlStorage, component: str, repair: bool) -> CheckResult:
    from llmspell.storage.components.artifacts.tables import (
        TABLES,
        artifact_content,
        artifacts,
    )

    c, a = artifact_content, artifacts
    referenced = exists().where(
        and_(a.c.tenant_id == c.c.tenant_id, a.c.content_hash == c.c.content_hash)
    )
    with every_tenant(storage, component, TABLES) as conn:
        tenants = sorted(
            set(conn.execute(select(c.c.tenant_id).union(select(a.c.tenant_id))).scalars())
        )
        orphans = conn.execute(
            select(c.c.tenant_id, c.c.content_hash, c.c.size).where(~referenced)
        ).all()
    problems = [
        Problem(
            "artifact_integrity",
            f"orphaned body {content_hash} ({size} bytes): no artifact references it",
            tenant=tenant,
            table=c.name,
        )
        for tenant, content_hash, size in orphans
    ]
    for tenant in tenants:
        for found in storage.for_tenant(tenant).artifacts.check_integrity():
            problems.append(
                Problem(
                    "artifact_integrity",
                    f"{found.kind} {found.content_hash}: {found.detail}",
                    tenant=tenant,
                    table=c.name,
                )
            )
    return CheckResult("artifact_integrity", component, problems=tuple(problems))


# --- vectors -----------------------------------------------------------------------------------


def _vector_dimensions(storage: SqlStorage, component: str, repair: bool) -> CheckResult:
    from llmspell.storage.components.vectors import VECTOR_TABLES, vector_namespaces

    ns = vector_namespaces
    problems: list[Problem] = []
    with every_tenant(storage, component, (ns, *VECTOR_TABLES.values())) as conn:
        sqlite = conn.dialect.name == "sqlite"
        existing = set(inspect(conn).get_table_names())
        for dimension, table in VECTOR_TABLES.items():
            if table.name not in existing:
                continue
            joined = table.join(
                ns, and_(ns.c.tenant_id == table.c.tenant_id, ns.c.namespace == table.c.namespace)
            )
            rows = conn.execute(
                select(
                    table.c.tenant_id,
                    table.c.namespace,
                    ns.c.dimension,
                    ns.c.model,
                    table.c.model,
                    func.count(),
                )
                .select_from(joined)
                .where((ns.c.dimension != dimension) | (ns.c.model != table.c.model))
                .group_by(
                    table.c.tenant_id, table.c.namespace, ns.c.dimension, ns.c.model, table.c.model
                )
            ).all()
            for tenant, namespace, pinned_dimension, pinned_model, model, count in rows:
                if pinned_dimension != dimension:
                    message = (
                        f"{count} vectors of dimension {dimension} in namespace {namespace!r}, "
                        f"whose model {pinned_model!r} has dimension {pinned_dimension}"
                    )
                else:
                    message = (
                        f"{count} vectors of model {model!r} in namespace {namespace!r}, "
                        f"which holds model {pinned_model!r}"
                    )
                problems.append(
                    Problem("vector_dimensions", message, tenant=tenant, table=table.name)
                )
            if sqlite:  # PostgreSQL's vector(N) column refuses any other size itself
                wrong = conn.execute(
                    select(table.c.tenant_id, table.c.id, func.length(table.c.embedding)).where(
                        func.length(table.c.embedding) != 4 * dimension
                    )
                ).all()
                for tenant, vector_id, size in wrong:
                    problems.append(
                        Problem(
                            "vector_dimensions",
                            f"vector {vector_id!r} holds {size // 4} floats, not {dimension}",
                            tenant=tenant,
                            table=table.name,
                        )
                    )
    return CheckResult("vector_dimensions", component, problems=tuple(problems))


# --- graph -------------------------------------------------------------------------------------


def _graph_temporal(storage: SqlStorage, component: str, repair: bool) -> CheckResult:
    from llmspell.storage.components.graph import graph_entities, graph_relationships

    problems: list[Problem] = []
    with every_tenant(storage, component, (graph_entities, graph_relationships)) as conn:
        for table, key in ((graph_entities, "entity_id"), (graph_relationships, "relationship_id")):
            t = table.c
            for period, start, end in (
                ("valid", t.valid_from, t.valid_to),
                ("recorded", t.recorded_at, t.superseded_at),
            ):
                rows = conn.execute(
                    select(t.tenant_id, t[key], t.version, start, end).where(
                        end.is_not(None), end <= start if period == "valid" else end < start
                    )
                ).all()
                for tenant, thing, version, began, ended in rows:
                    problems.append(
                        Problem(
                            "graph_temporal",
                            f"{key} {thing!r} version {version}: its {period} period ends "
                            f"({ended.isoformat()}) before it starts ({began.isoformat()})",
                            tenant=tenant,
                            table=table.name,
                        )
                    )
    return CheckResult("graph_temporal", component, problems=tuple(problems))


# --- events (PostgreSQL partitions) --------------------------------------------------------------


def _event_partitions(storage: SqlStorage, component: str, repair: bool) -> CheckResult:
    from llmspell.storage.components.events import COMPONENT, EVENT_LOG_PARTITIONS
    from llmspell.storage.postgres.partitions import add_months, month_start

    backend = backend_for(storage.settings.backend_of(component))
    if backend.dialect != "postgresql":
        return CheckResult("event_partitions", component, applies=False)
    settings = storage.settings.settings_of(component, COMPONENT.default_settings())
    parts = EVENT_LOG_PARTITIONS
    this_month = month_start(datetime.now(UTC))
    months = [add_months(this_month, n) for n in range(settings.partition_months_ahead + 1)]
    problems: list[Problem] = []
    repaired: list[str] = []
    with (
        backend.owner(storage.settings, create=False) as owner,
        owner.engine.connect() as conn,
        conn.begin(),
    ):
        existing = set(
            conn.execute(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = CAST(:parent AS regclass)"
                ),
                {"parent": parts.table},
            ).scalars()
        )
        if parts.default_partition not in existing:
            problems.append(
                Problem(
                    "event_partitions",
                    f"the DEFAULT partition {parts.default_partition} is missing: an event "
                    "outside every monthly partition cannot be stored",
                    table=parts.table,
                )
            )
            stranded: list[Any] = []
        else:
            # The owner reads a partition directly (RLS is forced only on the parent).
            stranded = list(
                conn.execute(
                    text(
                        "SELECT date_trunc('month', timestamp AT TIME ZONE 'UTC'), count(*) "
                        f"FROM {parts.default_partition} GROUP BY 1 ORDER BY 1"
                    )
                ).all()
            )
        wanted: dict[datetime, str] = {}
        # The store creates the months ahead with its first event; before that none are due.
        if stranded or any(name != parts.default_partition for name in existing):
            for month in months:
                wanted[month] = (
                    f"(partitions are kept {settings.partition_months_ahead} months ahead; "
                    "`storage validate --repair` creates it)"
                )
        for month, count in stranded:
            wanted[month.replace(tzinfo=UTC)] = (
                f"({count} events of that month sit in {parts.default_partition}; "
                "`storage validate --repair` moves them into it)"
            )
        for month, why in sorted(wanted.items()):
            name = parts.partition_name(month)
            if name in existing:
                continue
            if repair:
                conn.execute(parts.ensure_statement(), {"first_month": month, "months": 1})
                repaired.append(f"partition {name} created")
            else:
                problems.append(
                    Problem(
                        "event_partitions",
                        f"partition {name} for {month:%Y-%m} is missing {why}",
                        table=parts.table,
                    )
                )
    return CheckResult(
        "event_partitions", component, problems=tuple(problems), repaired=tuple(repaired)
    )


# --- keyword index (SQLite) ----------------------------------------------------------------------


def _keyword_index(storage: SqlStorage, component: str, repair: bool) -> CheckResult:
    from llmspell.storage.components.vectors import VECTOR_TABLES

    if backend_for(storage.settings.backend_of(component)).dialect != "sqlite":
        # PostgreSQL's keyword index is a generated column: it cannot fall out of step.
        return CheckResult("keyword_index", component, applies=False)
    problems: list[Problem] = []
    repaired: list[str] = []
    with every_tenant(storage, component, tuple(VECTOR_TABLES.values()), write=repair) as conn:
        for table in VECTOR_TABLES.values():
            if fulltext.sqlite_index_in_step(conn, table.name):
                continue
            rows, indexed = fulltext.sqlite_index_counts(conn, table.name)
            if repair:
                conn.exec_driver_sql(fulltext.rebuild_sqlite_sql(table.name))
                repaired.append(f"keyword index of {table.name} rebuilt ({rows} rows)")
                continue
            problems.append(
                Problem(
                    "keyword_index",
                    f"the keyword index of {table.name} is out of step with its rows ({rows} "
                    f"rows, {indexed} indexed; a VACUUM renumbers rows): run `llmspell storage "
                    "validate --repair`",
                    table=table.name,
                )
            )
    return CheckResult(
        "keyword_index", component, problems=tuple(problems), repaired=tuple(repaired)
    )


# The checks of one component each: (check name, component, check).
COMPONENT_CHECKS: list[tuple[str, str, Check]] = [
    ("artifact_integrity", "artifacts", _artifact_integrity),
    ("vector_dimensions", "vectors", _vector_dimensions),
    ("keyword_index", "vectors", _keyword_index),
    ("graph_temporal", "graph", _graph_temporal),
    ("event_partitions", "events", _event_partitions),
]
CHECK_NAMES = ("schema_revision", "row_level_security", *(c[0] for c in COMPONENT_CHECKS))
