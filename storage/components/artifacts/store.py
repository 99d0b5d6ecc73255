"""`SqlArtifactStore`: content-addressed artifacts of one tenant on any SQL backend.

Storing hashes the content first (one pass, nothing kept), then in one write transaction takes
the session's next sequence, the name's next version, and a reference on the content row of
that hash — writing the body only when the tenant does not hold those bytes yet. Deleting drops
a reference; the body goes with the last one. Everything runs inside the tenant: the hash is
only ever compared with this tenant's rows, so storing bytes another tenant holds costs and
answers exactly the same as storing new bytes.
"""

from __future__ import annotations

import builtins
import hashlib
import io
import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    bindparam,
    delete,
    func,
    insert,
    select,
    tuple_,
    update,
)

from llmspell.storage.components.artifacts.bodies import Bodies
from llmspell.storage.components.artifacts.content import (
    Content,
    ContentLike,
    Digest,
    Writable,
    as_content,
    digest,
)
from llmspell.storage.components.artifacts.integrity import IntegrityCheck
from llmspell.storage.components.artifacts.model import (
    ArtifactQuery,
    ArtifactRecord,
    ArtifactSettings,
    IntegrityProblem,
    NewArtifact,
    check_new_artifact,
)
from llmspell.storage.components.artifacts.tables import (
    artifact_content,
    artifact_sequences,
    artifact_tags,
    artifacts,
)
from llmspell.storage.database import Database
from llmspell.storage.glob import matches_glob
from llmspell.storage.tenancy import Tenant
from llmspell.storage.upsert import upsert_into
from llmspell.storage.values import refuse_nul

TEXT_MIME = "text/plain"
BINARY_MIME = "application/octet-stream"
# A content row another transaction deletes between our INSERT (which saw it) and our UPDATE
# sends us round again; more rounds than this means something else is wrong.
REFERENCE_ATTEMPTS = 5
COUNT_BATCH = 500

_ROW = (
    artifacts.c.session_id,
    artifacts.c.sequence,
    artifacts.c.content_hash,
    artifacts.c.name,
    artifacts.c.version,
    artifacts.c.type,
    artifacts.c.mime_type,
    artifacts.c.size,
    artifacts.c.tags,
    artifacts.c.metadata,
    artifacts.c.created_at,
    artifacts.c.created_by,
)


def _record(row: Any) -> ArtifactRecord:
    return ArtifactRecord(
        session_id=row.session_id,
        sequence=int(row.sequence),
        content_hash=row.content_hash,
        name=row.name,
        version=int(row.version),
        type=row.type,
        mime_type=row.mime_type,
        size=int(row.size),
        tags=tuple(json.loads(row.tags)),
        metadata=json.loads(row.metadata),
        created_at=row.created_at,
        created_by=row.created_by,
    )


def _json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"metadata cannot be stored as JSON: {exc}") from None


class SqlArtifactStore:
    """`ArtifactStore` on any SQL backend, for one tenant (statements built once)."""

    def __init__(self, db: Database, tenant: Tenant, settings: ArtifactSettings) -> None:
        self._db = db
        self._tenant = tenant
        self.tenant_id = tenant.id
        self.settings = settings
        self._bodies = Bodies(tenant)
        a, c, t, s = artifacts, artifact_content, artifact_tags, artifact_sequences

        next_sequence = upsert_into(db.dialect_name, s).values(tenant.values(last_sequence=1))
        self._next_sequence = next_sequence.on_conflict_do_update(
            index_elements=[s.c.tenant_id, s.c.session_id],
            set_={"last_sequence": s.c.last_sequence + 1},
        ).returning(s.c.last_sequence)
        self._last_version = select(func.coalesce(func.max(a.c.version), 0)).where(
            tenant.where(a, "session_id", "name")
        )
        self._new_content = (
            upsert_into(db.dialect_name, c)
            .values(tenant.values(ref_count=1))
            .on_conflict_do_nothing(index_elements=[c.c.tenant_id, c.c.content_hash])
            .returning(c.c.content_hash)
        )
        # UPDATE reserves bind names equal to column names (SET parameters): `:hash` here.
        content_row = (tenant.where(c), c.c.content_hash == bindparam("hash"))
        self._add_reference = (
            update(c)
            .where(*content_row)
            .values(ref_count=c.c.ref_count + 1)
            .returning(c.c.ref_count)
        )
        self._drop_references = (
            update(c)
            .where(*content_row)
            .values(ref_count=c.c.ref_count - bindparam("dropped"))
            .returning(c.c.ref_count)
        )
        self._delete_content = delete(c).where(tenant.where(c, "content_hash"))
        self._insert = insert(a).values(tenant.values())
        self._insert_tag = insert(t).values(tenant.values())

        self._get = select(*_ROW).where(tenant.where(a, "session_id", "sequence"))
        self._version = select(*_ROW).where(tenant.where(a, "session_id", "name", "version"))
        self._latest = (
            select(*_ROW)
            .where(tenant.where(a, "session_id", "name"))
            .order_by(a.c.version.desc())
            .limit(1)
        )
        self._body_of = (
            select(c.c.content_hash, c.c.size)
            .join_from(
                a,
                c,
                (c.c.tenant_id == a.c.tenant_id) & (c.c.content_hash == a.c.content_hash),
            )
            .where(tenant.where(a, "session_id", "sequence"))
        )
        self._list = select(*_ROW).where(tenant.where(a, "session_id")).order_by(a.c.sequence.asc())
        self._query_base = select(*_ROW).where(tenant.where(a))
        self._with_all_tags = (
            select(t.c.session_id, t.c.sequence)
            .where(tenant.where(t), t.c.tag.in_(bindparam("tags", expanding=True)))
            .group_by(t.c.session_id, t.c.sequence)
            .having(func.count(t.c.tag) == bindparam("tag_count"))
        )
        self._hash_of = select(a.c.content_hash).where(tenant.where(a, "session_id", "sequence"))
        self._delete_tags = delete(t).where(tenant.where(t, "session_id", "sequence"))
        self._delete = delete(a).where(tenant.where(a, "session_id", "sequence"))
        self._session_hashes = (
            select(a.c.content_hash, func.count())
            .where(tenant.where(a, "session_id"))
            .group_by(a.c.content_hash)
        )
        self._delete_session_tags = delete(t).where(tenant.where(t, "session_id"))
        self._delete_session = delete(a).where(tenant.where(a, "session_id"))
        self._delete_sequence = delete(s).where(tenant.where(s, "session_id"))
        self._counts = (
            select(a.c.session_id, func.count())
            .where(tenant.where(a), a.c.session_id.in_(bindparam("session_ids", expanding=True)))
            .group_by(a.c.session_id)
        )
        self._integrity = IntegrityCheck(tenant, self._bodies)

    # --- storing ----------------------------------------------------------------------------

    def store(self, artifact: NewArtifact, content: ContentLike) -> ArtifactRecord:
        check_new_artifact(artifact)
        source = as_content(content)
        tags = list(dict.fromkeys(artifact.tags))
        metadata = _json(artifact.metadata)
        found = digest(
            source,
            self.settings.chunk_bytes,
            self.settings.max_bytes,
            check_utf8=artifact.mime_type is None,
        )
        mime_type = artifact.mime_type or (TEXT_MIME if found.utf8 else BINARY_MIME)
        now = datetime.now(UTC)
        with self._db.transaction(write=True) as conn:
            sequence = int(
                conn.execute(self._next_sequence, {"session_id": artifact.session_id}).scalar_one()
            )
            version = 1 + int(
                conn.execute(
                    self._last_version, {"session_id": artifact.session_id, "name": artifact.name}
                ).scalar_one()
            )
            self._reference(conn, source, found, now)
            conn.execute(
                self._insert,
                {
                    "session_id": artifact.session_id,
                    "sequence": sequence,
                    "name": artifact.name,
                    "version": version,
                    "type": artifact.type,
                    "mime_type": mime_type,
                    "size": found.size,
                    "tags": _json(tags),
                    "metadata": metadata,
                    "content_hash": found.sha256,
                    "created_at": now,
                    "created_by": artifact.created_by,
                },
            )
            if tags:
                conn.execute(
                    self._insert_tag,
                    [
                        {"session_id": artifact.session_id, "sequence": sequence, "tag": tag}
                        for tag in tags
                    ],
                )
        return ArtifactRecord(
            session_id=artifact.session_id,
            sequence=sequence,
            content_hash=found.sha256,
            name=artifact.name,
            version=version,
            type=artifact.type,
            mime_type=mime_type,
            size=found.size,
            tags=tuple(tags),
            metadata=dict(artifact.metadata),
            created_at=now,
            created_by=artifact.created_by,
        )

    def _reference(self, conn: Connection, source: Content, found: Digest, now: datetime) -> None:
        """One more reference on the content row of `found`, creating it (and writing the
        body) when this tenant does not hold those bytes yet."""
        for _ in range(REFERENCE_ATTEMPTS):
            created = conn.execute(
                self._new_content,
                {"content_hash": found.sha256, "size": found.size, "created_at": now},
            ).first()
            if created is not None:
                self._bodies.write(conn, found.sha256, self._same_bytes(source, found))
                return
            if conn.execute(self._add_reference, {"hash": found.sha256}).first():
                return
        raise RuntimeError(f"content {found.sha256} kept disappearing while being referenced")

    def _same_bytes(self, source: Content, found: Digest) -> Iterator[bytes | memoryview]:
        """The source's chunks again; a source that may have changed since it was hashed is
        hashed again on the way, and a difference fails the store (its transaction)."""
        chunks = source.chunks(self.settings.chunk_bytes)
        if source.stable:
            yield from chunks
            return
        sha = hashlib.sha256()
        size = 0
        for chunk in chunks:
            sha.update(chunk)
            size += len(chunk)
            yield chunk
        if size != found.size or sha.hexdigest() != found.sha256:
            raise ValueError(f"{source.describe()} changed while it was being stored")

    # --- reading ----------------------------------------------------------------------------

    def get(self, session_id: str, sequence: int) -> ArtifactRecord | None:
        with self._db.transaction() as conn:
            row = conn.execute(self._get, {"session_id": session_id, "sequence": sequence}).first()
        return None if row is None else _record(row)

    def get_version(
        self, session_id: str, name: str, version: int | None = None
    ) -> ArtifactRecord | None:
        refuse_nul("name", name)
        with self._db.transaction() as conn:
            if version is None:
                row = conn.execute(self._latest, {"session_id": session_id, "name": name}).first()
            else:
                row = conn.execute(
                    self._version, {"session_id": session_id, "name": name, "version": version}
                ).first()
        return None if row is None else _record(row)

    def read(self, session_id: str, sequence: int) -> bytes | None:
        buffer = io.BytesIO()

        def sized(size: int) -> Writable:
            # Grown to full size once, then filled in place: getvalue() hands the buffer over
            # without a copy, so the body is in memory once.
            if size:
                buffer.seek(size - 1)
                buffer.write(b"\0")
                buffer.seek(0)
            return buffer

        if self._read(session_id, sequence, sized) is None:
            return None
        return buffer.getvalue()

    def read_into(self, session_id: str, sequence: int, out: Writable) -> int | None:
        return self._read(session_id, sequence, lambda size: out)

    def _read(
        self, session_id: str, sequence: int, target: Callable[[int], Writable]
    ) -> int | None:
        # One transaction: the body cannot be deleted half-way through.
        with self._db.transaction() as conn:
            row = conn.execute(
                self._body_of, {"session_id": session_id, "sequence": sequence}
            ).first()
            if row is None:
                return None
            out = target(int(row.size))
            written = 0
            for chunk in self._bodies.read(conn, row.content_hash, int(row.size)):
                out.write(chunk)
                written += len(chunk)
            return written

    def list(self, session_id: str) -> list[ArtifactRecord]:
        with self._db.transaction() as conn:
            rows = conn.execute(self._list, {"session_id": session_id}).all()
        return [_record(row) for row in rows]

    def query(self, query: ArtifactQuery) -> builtins.list[ArtifactRecord]:
        stmt, params = self._query_statement(query)
        with self._db.transaction() as conn:
            rows = conn.execute(stmt, params).all()
        return [_record(row) for row in rows]

    def _query_statement(self, query: ArtifactQuery) -> tuple[Select[Any], dict[str, Any]]:
        # Built per call: which filters apply varies, and querying is not the hot path.
        a = artifacts
        stmt = self._query_base
        params: dict[str, Any] = {}
        equal = {"session_id": query.session_id, "type": query.type}
        for column, value in equal.items():
            if value is not None:
                stmt = stmt.where(a.c[column] == bindparam(column))
                params[column] = value
        if query.name is not None:
            stmt = stmt.where(matches_glob(a.c.name, query.name))
        if query.tags:
            tags = sorted(set(query.tags))
            stmt = stmt.where(tuple_(a.c.session_id, a.c.sequence).in_(self._with_all_tags))
            params.update(tags=tags, tag_count=len(tags))
        bounds = [
            (
                query.created_after,
                a.c.created_at >= bindparam("created_after", type_=a.c.created_at.type),
            ),
            (
                query.created_before,
                a.c.created_at < bindparam("created_before", type_=a.c.created_at.type),
            ),
            (query.min_size, a.c.size >= bindparam("min_size")),
            (query.max_size, a.c.size <= bindparam("max_size")),
        ]
        names = ("created_after", "created_before", "min_size", "max_size")
        for name, (bound, clause) in zip(names, bounds, strict=True):
            if bound is not None:
                stmt = stmt.where(clause)
                params[name] = bound
        stmt = stmt.order_by(a.c.created_at.desc(), a.c.session_id.desc(), a.c.sequence.desc())
        if query.limit is not None:
            stmt = stmt.limit(query.limit)
        return stmt, params

    def count_by_session(self, session_ids: Sequence[str]) -> dict[str, int]:
        counts = dict.fromkeys(session_ids, 0)
        ids = list(counts)
        with self._db.transaction() as conn:
            # In batches: a statement may bind only so many values (SQLite: 32766).
            for start in range(0, len(ids), COUNT_BATCH):
                batch = ids[start : start + COUNT_BATCH]
                rows = conn.execute(self._counts, {"session_ids": batch}).all()
                counts.update({session_id: int(n) for session_id, n in rows})
        return counts

    # --- deleting ---------------------------------------------------------------------------

    def delete(self, session_id: str, sequence: int) -> bool:
        params = {"session_id": session_id, "sequence": sequence}
        with self._db.transaction(write=True) as conn:
            content_hash = conn.execute(self._hash_of, params).scalar_one_or_none()
            if content_hash is None:
                return False
            conn.execute(self._delete_tags, params)
            conn.execute(self._delete, params)
            self._release(conn, content_hash, 1)
        return True

    def delete_session(self, session_id: str) -> int:
        params = {"session_id": session_id}
        with self._db.transaction(write=True) as conn:
            references = conn.execute(self._session_hashes, params).all()
            conn.execute(self._delete_session_tags, params)
            conn.execute(self._delete_session, params)
            conn.execute(self._delete_sequence, params)
            for content_hash, count in references:
                self._release(conn, content_hash, int(count))
        return sum(int(count) for _, count in references)

    def _release(self, conn: Connection, content_hash: str, dropped: int) -> None:
        """Drop `dropped` references; the last one takes the content row and its body."""
        row = conn.execute(
            self._drop_references, {"hash": content_hash, "dropped": dropped}
        ).first()
        if row is not None and row.ref_count <= 0:
            self._bodies.delete(conn, content_hash)
            conn.execute(self._delete_content, {"content_hash": content_hash})

    # --- integrity --------------------------------------------------------------------------

    def check_integrity(self) -> builtins.list[IntegrityProblem]:
        with self._db.transaction() as conn:
            return self._integrity.problems(conn)
