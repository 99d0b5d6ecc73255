"""Where a content row's bytes live: chunk rows (SQLite; small bodies on PostgreSQL) or, on
PostgreSQL, a Large Object for bodies of `large_object_bytes` and more. Both are written and
read one chunk at a time inside the caller's transaction, so no body is held twice."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sqlalchemy import Connection, delete, exists, func, insert, select

from llmspell.storage.components.artifacts.model import ArtifactSettings
from llmspell.storage.components.artifacts.tables import artifact_chunks, artifact_content
from llmspell.storage.database import Database
from llmspell.storage.tenancy import Tenant


class MissingBody(ValueError):
    """A content row whose bytes are gone or short (corruption; the integrity check reports it)."""


class Bodies:
    """Writes, reads and deletes bodies for one tenant on one database."""

    def __init__(self, db: Database, tenant: Tenant, settings: ArtifactSettings) -> None:
        self._settings = settings
        self._large_objects = db.dialect_name == "postgresql"
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

    def uses_large_object(self, size: int) -> bool:
        return self._large_objects and size >= self._settings.large_object_bytes

    def write(
        self, conn: Connection, content_hash: str, size: int, chunks: Iterable[bytes | memoryview]
    ) -> int | None:
        """Store a body; the Large Object's oid when it went to one, else None."""
        if self.uses_large_object(size):
            from llmspell.storage.postgres import large_objects

            return large_objects.write(conn, chunks)
        for index, chunk in enumerate(chunks):
            conn.execute(
                self._insert_chunk,
                {"content_hash": content_hash, "chunk_index": index, "data": chunk},
            )
        return None

    def read(
        self, conn: Connection, content_hash: str, size: int, large_object: int | None
    ) -> Iterator[bytes]:
        """The body's bytes in chunks; MissingBody if they are gone or fewer than `size`."""
        if large_object is not None:
            from llmspell.storage.postgres import large_objects

            if not large_objects.exists(conn, large_object):
                raise MissingBody(f"the large object of content {content_hash} is gone")
            try:
                yield from large_objects.read(conn, large_object, size, self._settings.chunk_bytes)
            except ValueError as exc:
                raise MissingBody(f"content {content_hash}: {exc}") from None
            return
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

    def delete(self, conn: Connection, content_hash: str, large_object: int | None) -> None:
        if large_object is not None:
            from llmspell.storage.postgres import large_objects

            large_objects.unlink(conn, large_object)
        conn.execute(self._delete_chunks, {"content_hash": content_hash})

    def orphaned_chunks(self, conn: Connection) -> dict[str, int]:
        """Chunk rows no content row owns: hash → how many rows."""
        rows = conn.execute(self._orphaned_chunks).all()
        return {content_hash: int(count) for content_hash, count in rows}
