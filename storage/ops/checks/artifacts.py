"""Artifact integrity: bodies against their hashes, reference counts, orphaned bodies."""

from __future__ import annotations

from sqlalchemy import and_, exists, select

from llmspell.storage.sql_storage import SqlStorage

from ..every_tenant import every_tenant
from .result import CheckResult, Problem


def artifact_integrity(storage: SqlStorage, component: str, repair: bool) -> CheckResult:
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
