"""`migrate`: copy every component's rows from one storage to another, tenant by tenant.

Behind `llmspell storage migrate`. Each tenant's rows of a component go over in one target
transaction (batched reads, COPY on PostgreSQL) that commits only when the copy has the
source's row count and checksum, so a failure or a kill leaves every unit either whole or
absent, and a rerun with `resume=True` continues where the last one stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Table

from llmspell.storage.database import Database
from llmspell.storage.ops.copy_text import CopyText, copy_text, line_checked
from llmspell.storage.ops.endpoints import (
    Endpoint,
    checked_tenants,
    component_tenants,
    opened,
    selected_components,
    tenant_database,
)
from llmspell.storage.ops.rows import digest_of, load_order, tenant_row_count, tenant_rows
from llmspell.storage.ops.transfer import (
    Batch,
    Progress,
    TransferError,
    UnitResult,
    refuse_held_units,
    target_row_count,
    write_unit,
)
from llmspell.storage.registry import Component
from llmspell.storage.sql_storage import SqlStorage

DEFAULT_BATCH_SIZE = 10_000


@dataclass(frozen=True)
class MigrationReport:
    """Every unit (component x tenant) of a migration, in the order they ran."""

    dry_run: bool
    units: tuple[UnitResult, ...]

    def totals(self) -> dict[str, tuple[int, int]]:
        """Per component: (rows in the source, rows the target holds for them)."""
        totals: dict[str, tuple[int, int]] = {}
        for unit in self.units:
            source, target = totals.get(unit.component, (0, 0))
            totals[unit.component] = (source + unit.rows, target + unit.target_rows)
        return totals

    @property
    def rows(self) -> int:
        return sum(unit.rows for unit in self.units)


# Called once before copying with the rows each component will copy.
Plan = Callable[[dict[str, int]], None]


def check_batch_size(function: str, batch_size: object) -> int:
    """`batch_size` if it is a positive integer, else ValueError naming `function`."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"{function}: batch_size must be a positive integer, got {batch_size!r}")
    return batch_size


def migrate(
    source: Endpoint,
    target: Endpoint,
    *,
    components: Sequence[str] | None = None,
    tenants: Sequence[str] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False,
    resume: bool = False,
    validate: bool = True,
    progress: Progress | None = None,
    on_plan: Plan | None = None,
) -> MigrationReport:
    """Copy `components` (default: all) of `tenants` (default: every tenant the source holds)
    from `source` to `target`, each a `StorageSettings` or an open `SqlStorage`.

    `dry_run` reads and counts but writes nothing; `resume` keeps units the target already
    holds exactly as the source does (an interrupted run) instead of refusing them; `validate`
    reads each unit back from the target before its commit. `progress(component, rows)` is
    called after each batch; `on_plan({component: rows})` once before the first.
    """
    check_batch_size("migrate", batch_size)
    chosen = selected_components(components)
    wanted = checked_tenants(tenants)
    with opened(source) as src, opened(target) as dst:
        for component in chosen:
            _refuse_same_database(src, dst, component)
        plan = _plan(src, chosen, wanted)
        if not resume:
            refuse_held_units(dst, [(component, tenant) for component, tenant, _ in plan])
        if on_plan is not None:
            on_plan({c.name: sum(rows for comp, _, rows in plan if comp is c) for c in chosen})
        results = [
            _run_unit(src, dst, component, tenant, batch_size, dry_run, resume, validate, progress)
            for component, tenant, _ in plan
        ]
    return MigrationReport(dry_run, tuple(results))


def _plan(
    src: SqlStorage, chosen: list[Component], wanted: list[str] | None
) -> list[tuple[Component, str, int]]:
    plan = []
    for component in chosen:
        # Tenants named are counted as themselves: no owner login is needed to list them.
        for tenant in component_tenants(src, component) if wanted is None else wanted:
            with tenant_database(src, component, tenant).transaction() as conn:
                rows = sum(tenant_row_count(conn, table, tenant) for table in component.tables)
            if rows:
                plan.append((component, tenant, rows))
    return plan


def _run_unit(
    src: SqlStorage,
    dst: SqlStorage,
    component: Component,
    tenant: str,
    batch_size: int,
    dry_run: bool,
    resume: bool,
    validate: bool,
    progress: Progress | None,
) -> UnitResult:
    source_db = tenant_database(src, component, tenant)
    target_db = tenant_database(dst, component, tenant)
    # From SQLite to PostgreSQL, SQLite writes the COPY text itself (see copy_text).
    as_text = source_db.dialect_name == "sqlite" and target_db.dialect_name == "postgresql"
    with source_db.transaction() as sconn:
        if dry_run:
            return _dry_run_unit(sconn, target_db, component, tenant, batch_size)

        def batches() -> Iterator[tuple[Table, Batch]]:
            # closing(): a unit that fails half-way closes its cursors while the source is open
            for table in load_order(component):
                if not as_text:
                    with closing(tenant_rows(sconn, table, tenant, batch_size)) as values:
                        yield from ((table, batch) for batch in values)
                elif not validate or line_checked(table):  # hashed as lines, if at all
                    with closing(copy_text(sconn, table, tenant, batch_size)) as texts:
                        yield from ((table, text) for text in texts)
                else:  # the rows as values too, for the checksum (a second cursor)
                    with (
                        closing(copy_text(sconn, table, tenant, batch_size)) as texts,
                        closing(tenant_rows(sconn, table, tenant, batch_size)) as values,
                    ):
                        for text, batch in zip(texts, values, strict=True):
                            if text.rows != len(batch):
                                raise TransferError(
                                    f"table {table.name!r}: {text.rows} rows read as text "
                                    f"beside {len(batch)} read as values"
                                )
                            yield table, CopyText(text.data, text.rows, batch)

        return write_unit(
            target_db,
            component,
            tenant,
            batches(),
            expected=None,
            source_digest=lambda: digest_of(sconn, component, tenant, batch_size),
            resume=resume,
            validate=validate,
            batch_size=batch_size,
            progress=progress,
        )


def _dry_run_unit(
    sconn: Connection,
    target_db: Database,
    component: Component,
    tenant: str,
    batch_size: int,
) -> UnitResult:
    rows = sum(tenant_row_count(sconn, table, tenant) for table in component.tables)
    held = target_row_count(target_db, component, tenant)
    if not held:
        return UnitResult(component.name, tenant, "would copy", rows, "", 0, "")
    where = f"component {component.name!r}, tenant {tenant!r}"
    source = digest_of(sconn, component, tenant, batch_size)
    with target_db.transaction() as tconn:
        present = digest_of(tconn, component, tenant, batch_size)
    if not present.matches(source):
        raise TransferError(
            f"the target already holds {held} rows of {where} and they differ from the source's"
        )
    return UnitResult(
        component.name,
        tenant,
        "would skip",
        rows,
        source.checksum,
        present.rows,
        present.checksum,
    )


def _refuse_same_database(src: SqlStorage, dst: SqlStorage, component: Component) -> None:
    if src is dst:
        raise ValueError("migrate: the source and the target are the same storage")
    a, b = src.settings, dst.settings
    backend = a.backend_of(component.name)
    if backend != b.backend_of(component.name):
        return
    same = {
        "sqlite": lambda: (
            Path(a.sqlite_path).expanduser().resolve() == Path(b.sqlite_path).expanduser().resolve()
        ),
        "postgres": lambda: (
            (not a.pg_embedded and not b.pg_embedded and a.pg_url == b.pg_url)
            or (a.pg_embedded and b.pg_embedded and a.pg_data_dir == b.pg_data_dir)
        ),
    }.get(backend, lambda: False)()
    if same:
        raise ValueError(
            f"migrate: component {component.name!r} has the same {backend} database as source "
            "and target; pick a different target"
        )
