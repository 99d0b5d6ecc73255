"""COPY text lines of a table's rows: written by SQLite itself, and printed back by PostgreSQL.

`copy_text`: one SELECT turns each row into one COPY line in C (values joined by separators no
value can hold, NULL marked), and a batch of lines is escaped by a few passes over its bytes: a
migration from SQLite to PostgreSQL does almost no Python work per row (the lines are written by
`endpoints.write_rows`). The lines come in key order, so a batch is hashed as one MD5 of its
bytes (`Digest.add_lines`); `hashed_move`: PostgreSQL prints the rows it stored from a batch as
the same lines, in the same order, and hashes them, so a copy is checked without reading it back.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    TIMESTAMP,
    BigInteger,
    Boolean,
    Connection,
    Float,
    Integer,
    LargeBinary,
    Select,
    String,
    Table,
    Text,
    bindparam,
    case,
    cast,
    column,
    func,
    insert,
    literal,
    select,
    table,
    tuple_,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from llmspell.storage.database import driver_failure
from llmspell.storage.errors import StorageError
from llmspell.storage.ops.rows import Row
from llmspell.storage.schema import Embedding, UtcDateTime

# SQLite joins a row's values with these and marks NULL with the third. Each starts with NUL,
# which no value can hold (PostgreSQL text cannot store it; SQLite's stores refuse it), so
# escaping the values afterwards, over the whole batch, never touches a separator.
_FIELD = b"\x00\x03"
_LINE = b"\x00\x04"
_NULL = b"\x00\x05"
_MARKERS = bytes.maketrans(_FIELD[1:] + _LINE[1:], b"\t\n")
# The characters COPY text gives a meaning to, in the order they are escaped (backslash first).
# UTF-8 never has these bytes (nor NUL) inside a character, so the text is handled as bytes.
_ESCAPES = ((b"\\", b"\\\\"), (b"\t", b"\\t"), (b"\n", b"\\n"), (b"\r", b"\\r"))
# A batch's text is cut at line boundaries into pieces of at most this many bytes (a longer
# line alone): PostgreSQL hashes a piece as one string, which it cannot make past 1 GB.
PIECE_BYTES = 64 << 20


@dataclass(frozen=True)
class CopyText:
    """Some rows of a table as COPY text lines (UTF-8, tab-separated, `\\N` for NULL) in the
    order of the table's primary key, and how many.

    A checksum of them is taken over `typed`, the same rows as `rows.tenant_rows` reads them,
    when given; else over the lines (`Digest.add_lines`), which PostgreSQL hashes again from the
    rows it stored (`hashed_move`) for a table that is `line_checked`.
    """

    data: bytes
    rows: int
    typed: list[Row] | None = None


def copy_text(
    conn: Connection, table: Table, tenant: str, batch_size: int
) -> Generator[CopyText, None, None]:
    """The tenant's rows of `table` on SQLite as COPY text in primary key order (BINARY, byte
    order for text), in batches of up to `batch_size` rows and `PIECE_BYTES` bytes (a row
    alone may be longer). Timestamps are UTC text without an offset, to be read with the
    TimeZone at UTC.

    A table of small values comes a batch per statement step: SQLite concatenates the batch's
    lines itself (`group_concat` over a range of the primary key), so the reading thread holds
    the GIL once per batch, not once per row, and the thread writing to PostgreSQL is not kept
    waiting for it (a batch past SQLite's limit on one string comes row by row). A table with
    bytes or vectors comes line by line: a batch of those would often pass that limit, and
    their rows are few and large."""
    if conn.dialect.name != "sqlite":
        raise ValueError(f"copy_text: reads SQLite, not {conn.dialect.name}")
    fields = [
        _field(column) if not column.nullable else func.coalesce(_field(column), func.char(0, 5))
        for column in table.columns
    ]
    line: ColumnElement[Any] = fields[0]
    for field in fields[1:]:
        line = line.op("||")(func.char(0, 3)).op("||")(field)
    line = line.op("||")(func.char(0, 4))
    driver: Any = conn.connection.driver_connection
    for name, function in _FUNCTIONS.items():
        driver.create_function(name, 1, function, deterministic=True)
    large = any(isinstance(column.type, LargeBinary | Embedding) for column in table.columns)
    batches = _line_batches if large else _range_batches
    try:
        for batch in batches(_Reader(driver, conn.dialect), table, line, tenant, batch_size):
            yield from _pieces(batch)
    except sqlite3.Error as exc:
        raise driver_failure(exc) from None


def _pieces(batch: CopyText) -> Iterator[CopyText]:
    """`batch` cut at line boundaries into pieces of at most `PIECE_BYTES` bytes."""
    data = batch.data
    if len(data) <= PIECE_BYTES:
        yield batch
        return
    start = 0
    while start < len(data):
        end = data.rfind(b"\n", start, start + PIECE_BYTES) + 1
        if end <= start:  # one line longer than a piece
            end = data.index(b"\n", start) + 1
        yield CopyText(data[start:end], data.count(b"\n", start, end))
        start = end


class _Reader:
    """Statements compiled once for SQLite and run on its driver connection."""

    def __init__(self, driver: Any, dialect: Any) -> None:
        self.driver = driver
        self.dialect = dialect
        self._compiled: dict[str, Any] = {}

    def cursor(self, name: str, statement: Any, values: dict[str, Any]) -> Any:
        """A cursor over `statement` (compiled once under `name`) with `values` bound."""
        compiled = self._compiled.get(name)
        if compiled is None:
            compiled = self._compiled[name] = statement.compile(dialect=self.dialect)
        params = compiled.construct_params(values)
        cursor = self.driver.cursor()
        try:
            cursor.execute(compiled.string, tuple(params[key] for key in compiled.positiontup))
        except BaseException:
            cursor.close()
            raise
        return cursor

    def one(self, name: str, statement: Any, values: dict[str, Any]) -> Any:
        """The first row of `statement` (None: no row)."""
        cursor = self.cursor(name, statement, values)
        try:
            return cursor.fetchone()
        finally:
            cursor.close()


def _line_batches(
    reader: _Reader, table: Table, line: ColumnElement[Any], tenant: str, batch_size: int
) -> Iterator[CopyText]:
    lines = select(cast(line, LargeBinary)).where(table.c.tenant_id == tenant)
    cursor = reader.cursor("lines", lines.order_by(*_keys(table)), {})
    first = itemgetter(0)
    try:
        while batch := cursor.fetchmany(batch_size):
            yield CopyText(_escaped(table, b"".join(map(first, batch)), len(batch)), len(batch))
    finally:
        cursor.close()


def _range_batches(
    reader: _Reader, table: Table, line: ColumnElement[Any], tenant: str, batch_size: int
) -> Iterator[CopyText]:
    # Ranges of the primary key after the tenant: the last key of each batch is found by an
    # OFFSET in the index, and the batch is every row after the previous one up to it.
    keys = _keys(table)
    after: list[BindParameter[Any]] = [bindparam(f"after_{i}") for i in range(len(keys))]
    upto: list[BindParameter[Any]] = [bindparam(f"upto_{i}") for i in range(len(keys))]
    owned = table.c.tenant_id == tenant
    previous: Row | None = None
    while True:
        last: Row | None = None
        if keys:
            bound = select(*keys).where(owned).order_by(*keys).offset(batch_size - 1).limit(1)
            if previous is not None:
                bound = bound.where(tuple_(*keys) > tuple_(*after))
            last = reader.one(f"last_{previous is not None}", bound, _named("after", previous))
        # In key order: SQLite keeps a subquery's ORDER BY under an aggregate other than
        # count/min/max (here it is the primary key index's own order: no sort).
        lines = select(line.label("line")).where(owned).order_by(*keys)
        if previous is not None:
            lines = lines.where(tuple_(*keys) > tuple_(*after))
        if last is not None:
            lines = lines.where(tuple_(*keys) <= tuple_(*upto))
        inner = lines.subquery()
        joined = cast(func.group_concat(inner.c.line, ""), LargeBinary)
        batch = select(joined, func.count()).select_from(inner)
        values = _named("after", previous) | _named("upto", last)
        shape = f"{previous is not None}_{last is not None}"
        try:
            data, rows = reader.one(f"batch_{shape}", batch, values)
        except sqlite3.DataError:  # the batch passes SQLite's limit on one string: row by row
            one_by_one = select(cast(inner.c.line, LargeBinary))
            cursor = reader.cursor(f"rows_{shape}", one_by_one, values)
            found = cursor.fetchall()
            cursor.close()
            data, rows = b"".join(map(itemgetter(0), found)), len(found)
        if rows:
            yield CopyText(_escaped(table, data, rows), rows)
        if last is None:
            return
        previous = last


def _keys(table: Table) -> list[Any]:
    """The columns of the table's primary key after the tenant."""
    return [column for column in table.primary_key.columns if column.name != "tenant_id"]


def _named(prefix: str, key: Row | None) -> dict[str, Any]:
    return {} if key is None else {f"{prefix}_{i}": value for i, value in enumerate(key)}


def _field(column: Any) -> ColumnElement[Any]:
    """A column's value as COPY reads it (NULL stays NULL): text, integers, booleans (0/1) and
    JSON as stored; timestamps as UTC `YYYY-MM-DD HH:MM:SS.ffffff` without the fraction's
    trailing zeros (as PostgreSQL prints them: stored so, mostly); bytes as `\\x` hex; floats
    and vectors by Python (SQLite's printf is not exact past 15 digits)."""
    kind = column.type
    if isinstance(kind, UtcDateTime):
        canonical = (
            (func.length(column) == 26)
            & (func.substr(column, 11, 1) == " ")
            & (func.substr(column, 20, 1) == ".")
        )
        trimmed = func.rtrim(func.rtrim(column, "0"), ".")
        return case((canonical, trimmed), else_=func.llmspell_utc_text(column))
    if isinstance(kind, Embedding):
        return func.llmspell_vector_text(column)
    if isinstance(kind, Float):
        return func.llmspell_float_text(column)
    if isinstance(kind, LargeBinary):  # hex(NULL) is '', so NULL is kept apart
        return case((column.is_not(None), literal("\\x").op("||")(func.hex(column))))
    return column  # type: ignore[no-any-return]


def _utc_text(value: str | None) -> str | None:
    """A stored timestamp in another form (an offset, a date alone) as UTC text (as `_field`
    writes the others)."""
    moment: datetime | None = _read_utc(value)
    if moment is None:
        return None
    return moment.isoformat(" ", "microseconds")[:-6].rstrip("0").rstrip(".")


def _float_text(value: float | None) -> str | None:
    """A float as its shortest exact text (`inf`, `-inf` and `nan` as PostgreSQL reads them)."""
    return None if value is None else repr(float(value))


def _vector_text(blob: bytes | None) -> str | None:
    """A float32 BLOB as pgvector's text: each float32 written as the float64 it is exactly."""
    import numpy as np

    if blob is None:
        return None
    return "[" + ",".join(map(repr, np.frombuffer(blob, dtype=np.float32).tolist())) + "]"


# The SQLite functions `_field` calls, registered on the connection before each read.
_FUNCTIONS = {
    "llmspell_float_text": _float_text,
    "llmspell_utc_text": _utc_text,
    "llmspell_vector_text": _vector_text,
}
# How SQLite's timestamps are read as values (for `_utc_text`).
_read_utc: Any = UtcDateTime().result_processor(sqlite_dialect(), None)
# The column types whose value PostgreSQL prints exactly as SQLite's COPY line has it.
_LINE_TYPES = (Text, Integer, BigInteger, Boolean, LargeBinary, UtcDateTime)


def line_checked(table: Table) -> bool:
    """Whether `hashed_move` can check the table's rows: every column one of `_LINE_TYPES`
    (not JSON, whose JSONB PostgreSQL rewrites, nor floats or vectors, printed otherwise)."""
    return all(type(column.type) in _LINE_TYPES for column in table.columns)


@cache
def hashed_move(target: Table, staging: str, escaped: bool) -> Select[int, str | None]:
    """On PostgreSQL, the statement that moves every row of `staging` (a temporary table like
    `target`) into the `line_checked` table `target` and returns how many it moved and the MD5
    of their COPY lines as `copy_text` writes them, in the same order (text keys in byte order,
    `COLLATE "C"`, as SQLite's BINARY): the rows as the table stored them (RETURNING), printed
    and hashed by the server and compared with `Digest.add_lines` of the lines sent.

    Run with the TimeZone at UTC and the DateStyle ISO. `escaped=False` is for lines without a
    backslash: then no value has a character COPY escapes and none is NULL, and the values are
    printed as they are (a stored value with such a character, or NULL, prints a line the sent
    ones cannot match); else each is escaped as COPY text."""
    if not line_checked(target):
        raise ValueError(f"hashed_move: table {target.name!r} has columns it cannot print")
    names = [column.name for column in target.columns]
    staged = table(staging, *(column(name) for name in names))
    fields = []
    for value in target.columns:
        field = _printed(value, escaped)
        fields.append(func.coalesce(cast(field, Text), "\\N") if value.nullable else field)
    line = func.concat_ws(literal("\t", Text), *fields)
    keys = _keys(target)
    moved = (
        insert(target)
        .from_select(names, select(*staged.c))
        .returning(line.label("line"), *keys)
        .cte("moved")
    )
    order = [
        moved.c[key.name].collate("C") if isinstance(key.type, String) else moved.c[key.name]
        for key in keys
    ]
    newline = literal("\n", Text)
    # (a table keyed by the tenant alone holds one row of it)
    joined = func.string_agg(
        moved.c.line, aggregate_order_by(newline, *order) if order else newline
    )
    return select(func.count(), func.md5(joined.op("||")(newline)))


def _printed(column: Any, escaped: bool) -> ColumnElement[Any]:
    """A column's value on PostgreSQL as `_field` (and `_escaped`, if `escaped`) make it on
    SQLite; a timestamp as a timestamp without time zone (the session's TimeZone is UTC), which
    concat_ws prints (DateStyle ISO) as `_field` writes it."""
    kind = column.type
    if isinstance(kind, UtcDateTime):  # in the session's TimeZone, UTC: no zone looked up
        return cast(column, TIMESTAMP)
    if isinstance(kind, Boolean):
        return cast(column, Integer)
    if isinstance(kind, Integer):
        return column  # type: ignore[no-any-return]
    printed: ColumnElement[Any] = column
    if isinstance(kind, LargeBinary):
        printed = literal("\\x").op("||")(func.upper(func.encode(column, "hex")))
    if escaped:
        for plain, replacement in _ESCAPES:
            printed = func.replace(printed, plain.decode(), replacement.decode())
    return printed


def _escaped(table: Table, text: bytes, rows: int) -> bytes:
    """Lines joined with the markers as COPY text: values escaped, markers made tabs, newlines
    and `\\N`. StorageError when a value held a NUL: the markers would not be the rows'.

    Each row has one NUL per column (its separators) and one per NULL marker, so a NUL in a
    value shows in the count (unless followed by the NULL marker's second character in a table
    with nullable columns: that value reads back different, which a validated copy's checksum
    refuses)."""
    nullable = any(column.nullable for column in table.columns)
    nulls = text.count(_NULL) if nullable else 0
    if text.count(b"\x00") != rows * len(table.columns) + nulls:
        raise StorageError(
            f"table {table.name!r}: a value holds a NUL character, which PostgreSQL cannot store"
        )
    if b"\\" in text or b"\t" in text or b"\n" in text or b"\r" in text:
        for plain, escaped in _ESCAPES:
            text = text.replace(plain, escaped)
    fields = rows * (len(table.columns) - 1)
    if not nulls and text.count(_FIELD[1:]) == fields and text.count(_LINE[1:]) == rows:
        # No value holds the markers' second bytes: one pass maps them and drops the NULs.
        return text.translate(_MARKERS, b"\x00")
    text = text.replace(_FIELD, b"\t").replace(_LINE, b"\n")
    return text.replace(_NULL, b"\\N") if nulls else text
