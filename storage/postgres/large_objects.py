"""PostgreSQL Large Objects for big artifact bodies, written and read a chunk at a time.

Large objects are outside row-level security: code reaches one only through the oid kept in an
RLS-protected `artifact_content` row, and an oid never leaves the store. Creating, writing and
unlinking are transactional, so a failed store leaves no object behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    LargeBinary,
    bindparam,
    cast,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import OID

_OID = cast(bindparam("oid", type_=BigInteger), OID)
CREATE = select(cast(func.lo_from_bytea(0, literal(b"", LargeBinary)), BigInteger))
PUT = select(
    func.lo_put(_OID, bindparam("offset", type_=BigInteger), bindparam("data", type_=LargeBinary))
)
GET = select(
    func.lo_get(_OID, bindparam("offset", type_=BigInteger), bindparam("length", type_=Integer))
)
UNLINK = select(func.lo_unlink(_OID))
EXISTS = text("SELECT 1 FROM pg_largeobject_metadata WHERE oid = CAST(:oid AS oid)")
# Large objects of the current role that no artifact_content row references. Only meaningful
# on a connection that sees every tenant's rows (the owner: migration 0006 gives it a read
# policy for this); as the app role it would take other tenants' objects for orphans.
ORPHANS = text(
    """
    SELECT m.oid::bigint FROM pg_largeobject_metadata m
    WHERE m.lomowner = (SELECT oid FROM pg_roles WHERE rolname = :owner_role)
      AND NOT EXISTS (SELECT 1 FROM artifact_content c WHERE c.large_object = m.oid::bigint)
    ORDER BY m.oid
    """
)


def write(conn: Connection, chunks: Iterable[bytes | memoryview]) -> int:
    """A new large object holding `chunks` in order; its oid."""
    oid = int(conn.execute(CREATE).scalar_one())
    offset = 0
    for chunk in chunks:
        conn.execute(PUT, {"oid": oid, "offset": offset, "data": chunk})
        offset += len(chunk)
    return oid


def read(conn: Connection, oid: int, size: int, chunk_bytes: int) -> Iterator[bytes]:
    """The object's first `size` bytes, `chunk_bytes` at a time."""
    for offset in range(0, size, chunk_bytes):
        length = min(chunk_bytes, size - offset)
        chunk = conn.execute(GET, {"oid": oid, "offset": offset, "length": length}).scalar_one()
        if len(chunk) != length:
            raise ValueError(
                f"large object is shorter than its content row says ({offset + len(chunk)} "
                f"of {size} bytes)"
            )
        yield chunk


def unlink(conn: Connection, oid: int) -> None:
    conn.execute(UNLINK, {"oid": oid})


def exists(conn: Connection, oid: int) -> bool:
    return conn.execute(EXISTS, {"oid": oid}).first() is not None


def orphaned(conn: Connection, owner_role: str) -> list[int]:
    """Oids of `owner_role`'s large objects that no artifact references (see ORPHANS)."""
    return [int(oid) for (oid,) in conn.execute(ORPHANS, {"owner_role": owner_role})]
