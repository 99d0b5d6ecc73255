"""One unit of a transfer: one tenant's rows of one component, written to the target in one
transaction together with the check that the copy is whole.

The unit is what makes migrate and restore resumable and safe: the target's transaction
commits only when the rows written have the source's row count and checksum, so after a
failure or a `kill -9` each unit is either all there or not there at all. The target itself is
the progress record: a rerun with `resume=True` skips the units it already holds in full.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, Table

from llmspell.storage.database import Database
from llmspell.storage.errors import StorageError
from llmspell.storage.ops.copy_text import CopyText
from llmspell.storage.ops.endpoints import tenant_database, write_rows
from llmspell.storage.ops.rows import (
    Digest,
    Row,
    digest_of,
    load_order,
    tenant_row_count,
    tenant_rows,
)
from llmspell.storage.registry import Component
from llmspell.storage.schema import COPYING_SETTING
from llmspell.storage.sql_storage import SqlStorage

Status = Literal["copied", "already there", "would copy", "would skip"]


@dataclass(frozen=True)
class UnitResult:
    """What happened to one tenant's rows of one component."""

    component: str
    tenant: str
    status: Status
    rows: int  # rows in the source
    checksum: str  # the source's checksum ("" on a dry run, or a copy nothing checked it against)
    target_rows: int  # rows the target holds for the unit afterwards
    target_checksum: str  # "" when not validated


# Called with (component, rows written) after each batch.
Progress = Callable[[str, int], None]


class TransferError(StorageError):
    """A unit could not be copied; the target holds none of its rows."""


_DONE = object()


# Rows of a table as values, or as COPY text formatted by the source (SQLite to PostgreSQL).
Batch = list[Row] | CopyText


def read_ahead(
    batches: Iterable[tuple[Table, Batch]], digest: Digest | None, depth: int = 2
) -> Iterator[tuple[Table, Batch]]:
    """`batches`, each added to `digest` (if any), read `depth` ahead in a thread: reading and
    hashing the next batches overlaps the database's time writing this one. A `CopyText`
    batch is hashed by its `typed` rows, or else by its lines."""
    ready: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: Any) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        items = iter(batches)
        try:
            for table, rows in items:
                if digest is not None:
                    _hash(digest, table, rows)
                if not offer((table, rows)):
                    return
            offer(_DONE)
        except BaseException as exc:  # handed to the writer, which raises it
            offer(exc)
        finally:
            # A generator left half-read closes its cursors here, while their connection is
            # still open, not whenever it is collected.
            close = getattr(items, "close", None)
            if close is not None:
                close()

    reader = threading.Thread(target=produce, name="llmspell-transfer-read", daemon=True)
    reader.start()
    try:
        while (item := ready.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join()


def _hash(digest: Digest, table: Table, batch: Batch) -> None:
    if isinstance(batch, list):
        digest.add_batch(table, batch)
    elif batch.typed is not None:
        digest.add_batch(table, batch.typed)
    else:
        digest.add_lines(batch.data, batch.rows)


def target_row_count(db: Database, component: Component, tenant: str) -> int:
    """How many rows the target holds for the unit."""
    with db.transaction() as conn:
        return sum(tenant_row_count(conn, table, tenant) for table in component.tables)


def write_unit(
    target: Database,
    component: Component,
    tenant: str,
    batches: Iterable[tuple[Table, Batch]],
    *,
    expected: Digest | None,
    source_digest: Callable[[], Digest],
    resume: bool,
    validate: bool,
    batch_size: int,
    progress: Progress | None = None,
) -> UnitResult:
    """Write one unit's `batches` (rows, or COPY text with the rows when they are hashed) to
    `target` in one transaction.

    `expected` is the digest the rows must have (a backup's manifest; None: the digest of the
    rows as they are read). A target that already holds rows of the unit is refused unless
    `resume` is set and they are exactly the source's (`source_digest()`): then nothing is
    written. With `validate`, the rows the target holds are checked before the commit: COPY
    text batches as PostgreSQL stored them (hashed by the server while it moves each batch in,
    see `copy_text.hashed_move`), other rows read back.
    """
    where = f"component {component.name!r}, tenant {tenant!r}"
    # The copy writes every row of the unit itself: on PostgreSQL the triggers that derive rows
    # from the rows written stand aside (on SQLite `write_rows` skips the rows they wrote).
    copying = {COPYING_SETTING: "on"} if target.dialect_name == "postgresql" else None
    with target.transaction(write=True, settings=copying) as conn:
        held = sum(tenant_row_count(conn, table, tenant) for table in component.tables)
        if held:
            source = expected or source_digest()
            present = digest_of(conn, component, tenant, batch_size)
            if resume and present.matches(source):
                return UnitResult(
                    component.name,
                    tenant,
                    "already there",
                    source.rows,
                    source.checksum,
                    present.rows,
                    present.checksum,
                )
            hint = (
                "they differ from the source's rows, so resuming cannot continue; empty the "
                "target for this tenant or pick another target"
                if resume
                else "they are not from an interrupted run of this transfer unless you say so: "
                "rerun with --resume (resume=True) to keep units the target already holds in full"
            )
            raise TransferError(f"the target already holds {held} rows of {where}; {hint}")
        # The rows' checksum is worth its cost (a third of a migration's) only when something
        # compares it: a backup's manifest, or the rows read back. The count is always checked.
        written = Digest() if expected is not None or validate else None
        own = {table.name for table in load_order(component)}
        rows_read = 0
        # COPY lines hashed by PostgreSQL as it stores them, not read back as values
        stored = Digest() if validate else None
        hashed_as_lines: set[str] = set()
        for table, rows in read_ahead(batches, written):
            if table.name not in own:
                raise TransferError(f"{where}: table {table.name!r} is not one of its tables")
            if stored is not None and isinstance(rows, CopyText) and rows.typed is None:
                hashed_as_lines.add(table.name)
                write_rows(conn, table, rows, stored)
            else:
                write_rows(conn, table, rows)
            count = rows.rows if isinstance(rows, CopyText) else len(rows)
            rows_read += count
            if progress is not None:
                progress(component.name, count)
        reference = expected or written  # None: nothing compares a checksum
        if written is not None and reference is not None and not written.matches(reference):
            raise TransferError(
                f"{where}: {written.rows} rows were read with checksum {written.checksum}, "
                f"but the source says {reference.rows} rows with checksum {reference.checksum}; "
                "nothing of this unit was written"
            )
        target_rows = sum(tenant_row_count(conn, table, tenant) for table in component.tables)
        if target_rows != rows_read:
            raise TransferError(
                f"{where}: {rows_read} rows were read but the target holds {target_rows} after "
                "the copy; nothing of this unit was written"
            )
        target_checksum = ""
        if stored is not None and reference is not None:
            copied = _target_digest(conn, component, tenant, batch_size, hashed_as_lines, stored)
            if not copied.matches(reference):
                raise TransferError(
                    f"{where}: the target holds {copied.rows} rows with checksum "
                    f"{copied.checksum} after the copy, the source {reference.rows} with checksum "
                    f"{reference.checksum}; nothing of this unit was written"
                )
            target_checksum = copied.checksum
    return UnitResult(
        component.name,
        tenant,
        "copied",
        rows_read,
        "" if reference is None else reference.checksum,
        target_rows,
        target_checksum,
    )


def _target_digest(
    conn: Connection,
    component: Component,
    tenant: str,
    batch_size: int,
    as_lines: set[str],
    stored: Digest,
) -> Digest:
    """The digest of the unit's rows in the target: `stored` (the tables in `as_lines`, hashed
    by PostgreSQL as it stored their COPY lines), and every other table's rows read back."""
    digest = Digest()
    digest.add(stored)
    for table in load_order(component):
        if table.name not in as_lines:
            for batch in tenant_rows(conn, table, tenant, batch_size):
                digest.add_batch(table, batch)
    return digest


def refuse_held_units(target: SqlStorage, units: list[tuple[Component, str]]) -> None:
    """Refuse, before anything is written, units whose tenant the target already has rows of."""
    held = [
        (component.name, tenant, rows)
        for component, tenant in units
        if (rows := target_row_count(tenant_database(target, component, tenant), component, tenant))
    ]
    if held:
        listed = "; ".join(f"{rows} rows of component {c!r}, tenant {t!r}" for c, t, rows in held)
        raise TransferError(
            f"the target already holds {listed}; nothing was written. If they are from an "
            "interrupted run of this transfer, rerun with --resume (resume=True): units the "
            "target holds exactly as the source does are kept, any other is refused"
        )
