"""Rows as every backend sees them: a component's tables in load order, a row as portable JSON
(the backup format), and the digest (row count + checksum) migrate and restore compare between
a source and its copy.

A row here is the tuple SQLAlchemy returns through the table's own column types (aware UTC
datetimes, bytes, float32 arrays, parsed JSON), in the table's column order, so the same row
read from SQLite and from PostgreSQL encodes, and hashes, the same.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from hashlib import blake2b, md5
from itertools import count
from typing import Any

from sqlalchemy import JSON, Connection, LargeBinary, Table, func, select

from llmspell.storage.database import driver_failure
from llmspell.storage.registry import Component
from llmspell.storage.schema import HALFVEC_FROM, Embedding, UtcDateTime

Row = tuple[Any, ...]
# The checksum is a sum of hashes modulo 2**128, of single rows (independent of the order rows
# come in, which differs between SQLite's and PostgreSQL's text collations) or of batches of
# COPY lines in key order (`add_lines`).
_MODULUS = 1 << 128
# Server-side cursors of one connection need names of their own (several may be open).
_cursor_numbers = count()


def load_order(component: Component) -> list[Table]:
    """The component's tables, each after the tables its foreign keys refer to."""
    own = set(component.tables)
    ordered: list[Table] = []
    pending = list(component.tables)
    while pending:
        ready = [
            table
            for table in pending
            if all(
                fk.column.table in ordered or fk.column.table not in own
                for fk in table.foreign_keys
            )
        ]
        if not ready:
            raise ValueError(f"component {component.name!r}: its tables' foreign keys form a cycle")
        ordered.extend(ready)
        pending = [table for table in pending if table not in ready]
    return ordered


def encode_value(column_type: Any, value: Any) -> Any:
    """`value` of a column as JSON: timestamps as ISO 8601, bytes and vectors as base64."""
    if value is None:
        return None
    if isinstance(column_type, UtcDateTime):
        moment: datetime = value
        return moment.isoformat()
    if isinstance(column_type, Embedding):
        import numpy as np

        return base64.b64encode(np.asarray(value, dtype=np.float32).tobytes()).decode("ascii")
    if isinstance(column_type, LargeBinary):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def decode_value(column_type: Any, value: Any) -> Any:
    """The inverse of `encode_value`."""
    if value is None:
        return None
    if isinstance(column_type, UtcDateTime):
        return datetime.fromisoformat(value)
    if isinstance(column_type, Embedding):
        import numpy as np

        return np.frombuffer(base64.b64decode(value), dtype=np.float32)
    if isinstance(column_type, LargeBinary):
        return base64.b64decode(value)
    return value


def encode_row(table: Table, row: Row) -> dict[str, Any]:
    """A row as a JSON object, column by column."""
    return {
        column.name: encode_value(column.type, value)
        for column, value in zip(table.columns, row, strict=True)
    }


def decode_row(table: Table, data: Mapping[str, Any]) -> Row:
    """A row from `encode_row`'s JSON object; ValueError naming the table when a column is
    missing or unknown."""
    names = [column.name for column in table.columns]
    if set(data) != set(names):
        missing = sorted(set(names) - set(data))
        extra = sorted(set(data) - set(names))
        raise ValueError(
            f"a row of table {table.name!r} has the wrong columns (missing: {missing}, "
            f"unknown: {extra})"
        )
    return tuple(decode_value(column.type, data[column.name]) for column in table.columns)


def _normalizer(column_type: Any) -> Callable[[Any], Any] | None:
    """What makes a column's value hash the same from every backend (None: its repr does)."""
    if isinstance(column_type, JSON):
        return lambda value: json.dumps(value, sort_keys=True, separators=(",", ":"))
    if isinstance(column_type, Embedding):
        import numpy as np

        # PostgreSQL keeps vectors of HALFVEC_FROM dimensions and more as float16.
        kind = np.float16 if column_type.dimension >= HALFVEC_FROM else np.float32
        return lambda value: None if value is None else np.asarray(value, dtype=kind).tobytes()
    if isinstance(column_type, LargeBinary):
        return lambda value: None if value is None else bytes(value)
    return None


@dataclass
class Digest:
    """Row count and checksum of some rows (one tenant's rows of one component).

    A row read as values hashes as the repr of its values (str, int, float, bytes, bool, None
    and UTC datetimes have one repr in every process), JSON and vectors normalised first; rows
    read as COPY text hash a batch at a time (`add_lines`).
    """

    rows: int = 0
    _sum: int = 0

    def add_batch(self, table: Table, rows: Iterable[Row]) -> None:
        normalizers = [(i, f) for i, c in enumerate(table.columns) if (f := _normalizer(c.type))]
        name = table.name
        total = self._sum
        count = 0
        for row in rows:
            if normalizers:
                values = list(row)
                for index, normalize in normalizers:
                    values[index] = normalize(values[index])
                text = repr((name, *values))
            else:
                text = repr((name, *row))
            hashed = blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
            total += int.from_bytes(hashed, "big")
            count += 1
        self._sum = total % _MODULUS
        self.rows += count

    def add_lines(self, data: bytes, rows: int) -> None:
        """Add `rows` rows given as COPY text lines in key order (each ending with a newline):
        the lines hash together as the MD5 of their bytes, which PostgreSQL computes from the
        rows it stored (`copy_text.hashed_move`) as fast as it reads them."""
        if rows:
            self.add_md5(rows, md5(data, usedforsecurity=False).hexdigest())

    def add_md5(self, rows: int, hexdigest: str | None) -> None:
        """Add `rows` rows whose COPY lines in key order have the MD5 `hexdigest` (None when
        there are no rows)."""
        if not rows:
            return
        if hexdigest is None:
            raise ValueError(f"Digest.add_md5: {rows} rows without an MD5")
        self._sum = (self._sum + int(hexdigest, 16)) % _MODULUS
        self.rows += rows

    def add(self, other: Digest) -> None:
        """Add the rows of another digest (of other rows)."""
        self.rows += other.rows
        self._sum = (self._sum + other._sum) % _MODULUS

    @property
    def checksum(self) -> str:
        return f"{self._sum:032x}"

    def matches(self, other: Digest) -> bool:
        return self.rows == other.rows and self._sum == other._sum

    @classmethod
    def of(cls, rows: int, checksum: str) -> Digest:
        """A digest recorded earlier (a backup's manifest)."""
        return cls(rows, int(checksum, 16))

    @classmethod
    def of_sum(cls, rows: int, total: int) -> Digest:
        """The digest of `rows` rows whose hashes add up to `total`."""
        return cls(rows, total % _MODULUS)


def tenant_rows(
    conn: Connection, table: Table, tenant: str, batch_size: int
) -> Generator[list[Row], None, None]:
    """The tenant's rows of `table` in batches of up to `batch_size`, streamed.

    Read on the DBAPI cursor of `conn` (a server-side cursor on PostgreSQL) and converted by the
    columns' own result processors: the rows SQLAlchemy returns, without its per-row work (a
    third of a migration's time).
    """
    dialect = conn.dialect
    compiled = select(table).where(table.c.tenant_id == tenant).compile(dialect=dialect)
    params = compiled.construct_params()
    args: Any = (
        tuple(params[name] for name in compiled.positiontup or ()) if dialect.positional else params
    )
    driver: Any = conn.connection.driver_connection
    # psycopg's plain cursor holds the whole result in memory; SQLite's steps as it is read.
    server_side = dialect.name == "postgresql"
    cursor = (
        driver.cursor(name=f"llmspell_rows_{next(_cursor_numbers)}")
        if server_side
        else driver.cursor()
    )
    error: type[Exception] = dialect.loaded_dbapi.Error
    try:
        try:
            cursor.execute(compiled.string, args)
            batch = cursor.fetchmany(batch_size)
        except error as exc:
            raise driver_failure(exc) from None
        processors = [
            (index, process)
            for index, (column, described) in enumerate(
                zip(table.columns, cursor.description, strict=True)
            )
            if (
                process := column.type.dialect_impl(dialect).result_processor(dialect, described[1])
            )
            is not None
        ]
        while batch:
            if processors:
                # Column by column: the loops run in C, only the processors in Python.
                columns: list[Any] = list(zip(*batch, strict=True))
                for index, process in processors:
                    columns[index] = map(process, columns[index])
                yield list(zip(*columns, strict=True))
            else:
                yield [tuple(row) for row in batch]
            try:
                batch = cursor.fetchmany(batch_size)
            except error as exc:
                raise driver_failure(exc) from None
    finally:
        cursor.close()


def tenant_row_count(conn: Connection, table: Table, tenant: str) -> int:
    """How many rows of `table` belong to the tenant."""
    query = select(func.count()).select_from(table).where(table.c.tenant_id == tenant)
    return int(conn.execute(query).scalar_one())


def digest_of(conn: Connection, component: Component, tenant: str, batch_size: int) -> Digest:
    """The digest of the tenant's rows of every table of `component`."""
    digest = Digest()
    for table in load_order(component):
        for batch in tenant_rows(conn, table, tenant, batch_size):
            digest.add_batch(table, batch)
    return digest
