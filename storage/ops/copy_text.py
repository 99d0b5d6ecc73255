"""A table's rows as PostgreSQL COPY text, formatted by SQLite itself.

One SELECT turns each row into one COPY line in C (values joined by separators no value can
hold, NULL marked), and a batch of lines is escaped by a few `str.replace` passes over the whole
batch: a migration from SQLite to PostgreSQL does almost no Python work per row. Written to
PostgreSQL by `endpoints.write_rows`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Generator
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Float, LargeBinary, Table, case, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from llmspell.storage.database import driver_failure
from llmspell.storage.errors import StorageError
from llmspell.storage.ops.rows import Row
from llmspell.storage.schema import Embedding

# SQLite joins a row's values with these and marks NULL with the third. Each starts with NUL,
# which no value can hold (PostgreSQL text cannot store it; SQLite's stores refuse it), so
# escaping the values afterwards, over the whole batch, never touches a separator.
_FIELD = "\x00\x03"
_LINE = "\x00\x04"
_NULL = "\x00\x05"
# The characters COPY text gives a meaning to, in the order they are escaped (backslash first).
_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"))


@dataclass(frozen=True)
class CopyText:
    """Some rows of a table as COPY text lines (tab-separated, `\\N` for NULL), and how many.

    `typed` holds the same rows as `rows.tenant_rows` reads them, when a checksum is wanted.
    """

    text: str
    rows: int
    typed: list[Row] | None = None


def copy_text(
    conn: Connection, table: Table, tenant: str, batch_size: int
) -> Generator[CopyText, None, None]:
    """The tenant's rows of `table` on SQLite as COPY text, in batches of up to `batch_size`
    rows. Timestamps are the stored text, to be read with the session's TimeZone at UTC."""
    if conn.dialect.name != "sqlite":
        raise ValueError(f"copy_text: reads SQLite, not {conn.dialect.name}")
    fields = [func.coalesce(_field(column), func.char(0, 5)) for column in table.columns]
    line: ColumnElement[Any] = fields[0]
    for field in fields[1:]:
        line = line.op("||")(func.char(0, 3)).op("||")(field)
    line = line.op("||")(func.char(0, 4))
    compiled = select(line).where(table.c.tenant_id == tenant).compile(dialect=conn.dialect)
    params = compiled.construct_params()
    args = tuple(params[name] for name in compiled.positiontup or ())
    driver: Any = conn.connection.driver_connection
    for name, function in _FUNCTIONS.items():
        driver.create_function(name, 1, function, deterministic=True)
    cursor = driver.cursor()
    first = itemgetter(0)
    try:
        try:
            cursor.execute(compiled.string, args)
            batch = cursor.fetchmany(batch_size)
        except sqlite3.Error as exc:
            raise driver_failure(exc) from None
        while batch:
            yield CopyText(_escaped(table, "".join(map(first, batch)), len(batch)), len(batch))
            try:
                batch = cursor.fetchmany(batch_size)
            except sqlite3.Error as exc:
                raise driver_failure(exc) from None
    finally:
        cursor.close()


def _field(column: Any) -> ColumnElement[Any]:
    """A column's value as COPY reads it (NULL stays NULL): text, integers, booleans (0/1),
    JSON and timestamps as stored; bytes as `\\x` hex; floats and vectors by Python (SQLite's
    own printf is not exact past 15 digits)."""
    kind = column.type
    if isinstance(kind, Embedding):
        return func.llmspell_vector_text(column)
    if isinstance(kind, Float):
        return func.llmspell_float_text(column)
    if isinstance(kind, LargeBinary):  # hex(NULL) is '', so NULL is kept apart
        return case((column.is_not(None), literal("\\x").op("||")(func.hex(column))))
    return column  # type: ignore[no-any-return]


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
_FUNCTIONS = {"llmspell_float_text": _float_text, "llmspell_vector_text": _vector_text}


def _escaped(table: Table, text: str, rows: int) -> str:
    """Lines joined with the markers as COPY text: values escaped, markers made tabs, newlines
    and `\\N`. StorageError when a value held a NUL: the markers would not be the rows'.

    (A value holding NUL followed by the NULL marker's second character passes the counts;
    it reads back different, which the checksum of a validated copy refuses.)"""
    fields = text.count(_FIELD)
    if (
        fields != rows * (len(table.columns) - 1)
        or text.count(_LINE) != rows
        or text.count("\x00") != fields + rows + text.count(_NULL)
    ):
        raise StorageError(
            f"table {table.name!r}: a value holds a NUL character, which PostgreSQL cannot store"
        )
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        for plain, escaped in _ESCAPES:
            text = text.replace(plain, escaped)
    return text.replace(_FIELD, "\t").replace(_LINE, "\n").replace(_NULL, "\\N")
