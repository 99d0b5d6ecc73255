"""The artifacts integrity check: every content row's reference count against the artifacts
that point at it, every body re-read and re-hashed, and chunk rows without a content row."""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

from sqlalchemy import Connection, func, select

from llmspell.storage.components.artifacts.bodies import Bodies, MissingBody
from llmspell.storage.components.artifacts.model import IntegrityProblem
from llmspell.storage.components.artifacts.tables import artifact_content, artifacts
from llmspell.storage.tenancy import Tenant


class IntegrityCheck:
    """The check of one tenant's artifacts, run in the caller's transaction."""

    def __init__(self, tenant: Tenant, bodies: Bodies) -> None:
        a, c = artifacts, artifact_content
        self._bodies = bodies
        self._contents = select(c.c.content_hash, c.c.size, c.c.ref_count).where(tenant.where(c))
        self._references = (
            select(a.c.content_hash, func.count()).where(tenant.where(a)).group_by(a.c.content_hash)
        )

    def problems(self, conn: Connection) -> list[IntegrityProblem]:
        """What is wrong with the tenant's bodies and reference counts (nothing: [])."""
        problems: list[IntegrityProblem] = []
        references = Counter(
            {content_hash: int(n) for content_hash, n in conn.execute(self._references)}
        )
        contents = conn.execute(self._contents).all()
        for row in contents:
            problems.extend(self._check_content(conn, row, references[row.content_hash]))
        stored = {row.content_hash for row in contents}
        for content_hash in sorted(set(references) - stored):
            problems.append(
                IntegrityProblem(
                    "missing_body",
                    content_hash,
                    f"{references[content_hash]} artifacts reference content that has no "
                    "content row",
                )
            )
        for content_hash, rows in sorted(self._bodies.orphaned_chunks(conn).items()):
            problems.append(
                IntegrityProblem(
                    "orphaned_chunks", content_hash, f"{rows} chunk rows without a content row"
                )
            )
        return problems

    def _check_content(self, conn: Connection, row: Any, referenced: int) -> list[IntegrityProblem]:
        found: list[IntegrityProblem] = []
        if row.ref_count != referenced:
            found.append(
                IntegrityProblem(
                    "ref_count",
                    row.content_hash,
                    f"reference count is {row.ref_count} but {referenced} artifacts reference it",
                )
            )
        sha = hashlib.sha256()
        size = 0
        try:
            for chunk in self._bodies.read(conn, row.content_hash, int(row.size)):
                sha.update(chunk)
                size += len(chunk)
        except MissingBody as exc:
            found.append(IntegrityProblem("missing_body", row.content_hash, str(exc)))
            return found
        if size != row.size or sha.hexdigest() != row.content_hash:
            found.append(
                IntegrityProblem(
                    "hash_mismatch",
                    row.content_hash,
                    f"the body ({size} bytes) hashes to {sha.hexdigest()}, not to its content "
                    f"hash ({row.size} bytes)",
                )
            )
        return found
