"""Where a content row's bytes live: rows of `artifact_chunks`, one per chunk, on every backend.

Written and read one chunk at a time inside the caller's transaction, so no body is held twice.
The chunk rows carry the tenant like every other row, so on PostgreSQL row-level security
guards a body exactly as it guards its content row (Large Objects, which sit outside it, are
never used)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sqlalchemy import Connection, delete, exists, func, insert, select

from llmspell.storage.components.artifacts.tables import artifact_chunks, artifact_content
from llmspell.storage.tenancy import Tenant


class MissingBody(ValueError):
    """A content row whose bytes are gone or short (corruption; the integrity check reports it)."""


class Bodies:
    """Writes, reads and deletes bodies for one tenant on one database."""

    def __init__(self, tenant: Tenant) -> None:
        c = artifact_chunks
        self._insert_chunk = insert(c).values(tenant.values())
        self._chunk = select(c.c.data).where(tenant.where(c, "content_hash", "chunk_index"))
        self._delete_chunks = delete(c).where(tenant.where(c, "content_hash"))
        owner = artifact_content
        self._orphaned_chunks = (
            select(c.c.content_hash, func.count())
            .where(tenant.where(c))
            .where(
                ~exists().where(
                    owner.c.tenant_id == c.c.tenant_id, owner.c.content_hash == c.c.content_hash
                )
            )
            .group_by(c.c.content_hash)
        )

    def write(
        self, conn: Connection, content_hash: str, chunks: Iterable[bytes | memoryview]
    ) -> None:
        """Store a body, one INSERT a chunk (a list for executemany would hold every chunk at
        once, and PostgreSQL refuses COPY FROM into a table under row-level security)."""
        for index, chunk in enumerate(chunks):
            conn.execute(
                self._insert_chunk,
                {"content_hash": content_hash, "chunk_index": index, "data": chunk},
            )

    def read(self, conn: Connection, content_hash: str, size: int) -> Iterator[bytes]:
        """The body's bytes in chunks; MissingBody if they are gone or fewer than `size`."""
        # Chunk by chunk, by index: one row in memory at a time on every driver (psycopg
        # would fetch a whole multi-row result at once).
        seen = 0
        index = 0
        while seen < size:
            data = conn.execute(
                self._chunk, {"content_hash": content_hash, "chunk_index": index}
            ).scalar_one_or_none()
            if data is None:
                raise MissingBody(
                    f"content {content_hash} has {seen} of its {size} bytes (chunk {index} "
                    "is missing)"
                )
            seen += len(data)
            index += 1
            yield bytes(data)

    def delete(self, conn: Connection, content_hash: str) -> None:
        conn.execute(self._delete_chunks, {"content_hash": content_hash})

    def orphaned_chunks(self, conn: Connection) -> dict[str, int]:
        """Chunk rows no content row owns: hash → how many rows."""
        rows = conn.execute(self._orphaned_chunks).all()
        return {content_hash: int(count) for content_hash, count in rows}
