"""The event log's monthly partitions (PostgreSQL): the months ahead, none stranded in DEFAULT."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from llmspell.storage.backend import backend_for
from llmspell.storage.sql_storage import SqlStorage

from .result import CheckResult, Problem


def event_partitions(storage: SqlStorage, component: str, repair: bool) -> CheckResult:
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
