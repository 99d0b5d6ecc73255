"""Vectors: dimensions and models against their namespace, and (SQLite) the keyword index."""

from __future__ import annotations

from sqlalchemy import and_, func, inspect, select

from llmspell.storage import fulltext
from llmspell.storage.backend import backend_for
from llmspell.storage.sql_storage import SqlStorage

from ..every_tenant import every_tenant
from .result import CheckResult, Problem


def vector_dimensions(storage: SqlStorage, component: str, repair: bool) -> CheckResult:
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


def keyword_index(storage: SqlStorage, component: str, repair: bool) -> CheckResult:
    from llmspell.storage.components.vectors import VECTOR_TABLES

    if backend_for(storage.settings.backend_of(component)).dialect != "sqlite":
        # PostgreSQL keeps no keyword index in the database (migration 0013): search ranks in
        # process over the rows themselves.
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
