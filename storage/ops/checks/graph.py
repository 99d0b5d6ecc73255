"""The graph's temporal invariants: no period of a version ends before it starts."""

from __future__ import annotations

from sqlalchemy import select

from llmspell.storage.sql_storage import SqlStorage

from ..every_tenant import every_tenant
from .result import CheckResult, Problem


def graph_temporal(storage: SqlStorage, component: str, repair: bool) -> CheckResult:
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
