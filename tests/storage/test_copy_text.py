"""COPY text formatted by SQLite (`storage.ops.copy_text`): every value a SQLite source holds
arrives in PostgreSQL as SQLAlchemy reads it from the source, whatever characters it holds."""

from __future__ import annotations

import math
import random
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest
from sqlalchemy import JSON, Boolean, Float, Integer, LargeBinary, insert, select
from transfer_helpers import MakeStore

from llmspell.storage import SqlStorage, registry
from llmspell.storage.components.hooks import hook_history
from llmspell.storage.components.kv import kv_entries, kv_history
from llmspell.storage.errors import StorageError
from llmspell.storage.ops.copy_text import CopyText, copy_text, hashed_move, line_checked
from llmspell.storage.ops.endpoints import write_rows
from llmspell.storage.ops.migrate import migrate
from llmspell.storage.ops.rows import Digest, load_order
from llmspell.storage.ops.transfer import TransferError
from llmspell.storage.schema import COPYING_SETTING, Embedding, UtcDateTime
from llmspell.storage.upsert import upsert_into

# Every character COPY text gives a meaning to, the escapes PostgreSQL writes for others, the
# second bytes of copy_text's markers, the NULL marker as text, and characters beyond ASCII.
TRICKY = "\\\t\n\r\x08\x0c\x0b\x01\x03\x04\x05N.é✓😀 a"


def _tricky_text(rng: random.Random) -> str:
    return "".join(rng.choice(TRICKY) for _ in range(rng.randrange(0, 12)))


def _doubles(count: int) -> list[float]:
    """Doubles from random bit patterns (every exponent), and the edges."""
    bits = np.random.default_rng(11).integers(0, 2**63, size=count, dtype=np.uint64)
    signs = np.random.default_rng(12).integers(0, 2, size=count, dtype=np.uint64) << 63
    values = [float(v) for v in (bits | signs).view(np.float64) if math.isfinite(v)]
    edges = [0.0, 0.1, 1 / 3, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308]
    return [*edges, math.inf, -math.inf, *values]


def _hook_rows(tenant: str) -> list[dict[str, Any]]:
    rng = random.Random(5)
    floats = _doubles(300)
    start = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    return [
        {
            "tenant_id": tenant,
            "execution_id": f"x{i:04d}",
            "hook_point": _tricky_text(rng),
            "hook_id": "",
            "hook_name": None if i % 3 == 0 else _tricky_text(rng),
            "component": "\\N" if i % 5 == 0 else "state",
            "correlation_id": None,
            "session_id": "\\.",
            "started_at": start + timedelta(microseconds=i * 999_999),
            "duration_ms": value,
            "result": "continue",
            "error": _tricky_text(rng) if i % 2 else None,
            "context": bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40))),
            "context_compressed": bool(i % 2),
        }
        for i, value in enumerate(floats)
    ]


def _hooks_of(storage: SqlStorage, tenant: str) -> list[dict[str, Any]]:
    query = select(hook_history).order_by(hook_history.c.execution_id)
    with storage.database("hooks").for_tenant(tenant).transaction() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def _same(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> None:
    assert len(a) == len(b)
    for left, right in zip(a, b, strict=True):
        assert left.keys() == right.keys()
        for name in left:
            x, y = left[name], right[name]
            if isinstance(x, float):  # -0.0 == 0.0 (SQLite keeps no -0.0): the sign too
                assert (x, math.copysign(1, x)) == (y, math.copysign(1, y)), name
            else:
                assert x == y, (name, x, y)


@pytest.mark.parametrize("source_kind", ["sqlite", "memory"])
def test_text_floats_bytes_booleans_and_nulls_arrive_as_the_source_holds_them(
    make_store: MakeStore, source_kind: str, unique_tenant: str
) -> None:
    source = make_store(source_kind, "source")
    target = make_store("postgres", "target")
    rows = _hook_rows(unique_tenant)
    with source.database("hooks").for_tenant(unique_tenant).transaction(write=True) as conn:
        conn.execute(insert(hook_history), rows)

    report = migrate(source, target, components=["hooks"], tenants=[unique_tenant], batch_size=64)

    [unit] = report.units
    assert (unit.rows, unit.target_rows, unit.target_checksum) == (
        len(rows),
        len(rows),
        unit.checksum,
    )
    _same(_hooks_of(target, unique_tenant), _hooks_of(source, unique_tenant))
    _same(_hooks_of(target, unique_tenant), sorted(rows, key=lambda r: str(r["execution_id"])))


def test_timestamps_stored_with_an_offset_or_as_a_date_arrive_as_the_same_instant(
    make_store: MakeStore, unique_tenant: str
) -> None:
    source = make_store("sqlite", "source")
    target = make_store("postgres", "target")
    stored = {
        "a": "2026-01-02 03:04:05.000006",
        "b": "2026-01-02T03:04:05.5+02:00",
        "c": "2026-01-02 03:04:05-05:30",
        "d": "2026-01-02",
    }
    row = _hook_rows(unique_tenant)[1]
    with source.database("hooks").for_tenant(unique_tenant).transaction(write=True) as conn:
        for execution_id, text in stored.items():
            conn.execute(insert(hook_history), {**row, "execution_id": execution_id})
            conn.exec_driver_sql(
                "UPDATE hook_history SET started_at = ? WHERE tenant_id = ? AND execution_id = ?",
                (text, unique_tenant, execution_id),
            )

    migrate(source, target, components=["hooks"], tenants=[unique_tenant])

    copied = {r["execution_id"]: r["started_at"] for r in _hooks_of(target, unique_tenant)}
    assert copied == {r["execution_id"]: r["started_at"] for r in _hooks_of(source, unique_tenant)}
    assert copied["b"] == datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=timezone(timedelta(hours=2)))
    assert copied["c"] == datetime(2026, 1, 2, 8, 34, 5, tzinfo=UTC)
    assert copied["d"] == datetime(2026, 1, 2, tzinfo=UTC)


@pytest.mark.parametrize("nul", ["char(0)", "char(0, 3)", "char(0, 4)"])
def test_a_value_holding_nul_is_refused_and_nothing_of_its_unit_is_written(
    make_store: MakeStore, unique_tenant: str, nul: str
) -> None:
    source = make_store("sqlite", "source")
    target = make_store("postgres", "target")
    rows = _hook_rows(unique_tenant)[:10]
    with source.database("hooks").for_tenant(unique_tenant).transaction(write=True) as conn:
        conn.execute(insert(hook_history), rows)
        conn.exec_driver_sql(
            f"UPDATE hook_history SET error = 'a' || {nul} || 'b' WHERE execution_id = 'x0007'"
        )

    with pytest.raises(StorageError, match="table 'hook_history': a value holds a NUL"):
        migrate(source, target, components=["hooks"], tenants=[unique_tenant], batch_size=4)
    assert _hooks_of(target, unique_tenant) == []


def test_copy_text_reads_only_sqlite_and_postgres_alone_takes_it(
    make_store: MakeStore, unique_tenant: str
) -> None:
    postgres = make_store("postgres", "pg")
    sqlite = make_store("sqlite", "lite")
    with (
        postgres.database("hooks").for_tenant(unique_tenant).transaction() as conn,
        pytest.raises(ValueError, match="copy_text: reads SQLite, not postgresql"),
    ):
        next(copy_text(conn, hook_history, unique_tenant, 10))
    with (
        sqlite.database("hooks").for_tenant(unique_tenant).transaction(write=True) as conn,
        pytest.raises(ValueError, match="write_rows: COPY text is for PostgreSQL, not sqlite"),
    ):
        write_rows(conn, hook_history, CopyText(b"", 0))


def test_lines_are_one_per_row_with_tabs_between_values_and_backslash_n_for_null(
    make_store: MakeStore, unique_tenant: str
) -> None:
    source = make_store("sqlite", "source")
    row = {
        **_hook_rows(unique_tenant)[0],
        "hook_point": "a\tb\\c\nd\re",
        "duration_ms": 0.1,
        "context": b"\x00\xff",
    }
    with source.database("hooks").for_tenant(unique_tenant).transaction(write=True) as conn:
        conn.execute(insert(hook_history), row)
        [batch] = list(copy_text(conn, hook_history, unique_tenant, 10))
    assert batch.rows == 1
    assert batch.data.decode() == (
        f"{unique_tenant}\tx0000\ta\\tb\\\\c\\nd\\re\t\t\\N\t\\\\N\t\\N\t\\\\.\t"
        "2026-01-02 03:04:05.000006\t0.1\tcontinue\t\\N\t\\\\x00FF\t0\n"
    )


def _kv_of(storage: SqlStorage, tenant: str) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    with storage.database("kv").for_tenant(tenant).transaction() as conn:
        for table in (kv_entries, kv_history):
            query = select(table).where(table.c.tenant_id == tenant)
            rows += sorted(tuple(row) for row in conn.execute(query))
    return rows


@pytest.mark.parametrize("batch_size", [1, 4, 7, 1000])
def test_key_ranges_cover_every_row_of_the_tenant_once_whatever_the_batch_size(
    make_store: MakeStore, unique_tenant: str, batch_size: int
) -> None:
    # kv rows come a key range per statement: 28 entries (a multiple of 4 and 7) whose scopes
    # and keys hold every character COPY escapes, between rows of two other tenants
    source = make_store("sqlite", "source")
    target = make_store("postgres", "target")
    rng = random.Random(batch_size)
    tenants = [f"{unique_tenant}-a", f"{unique_tenant}-b", f"{unique_tenant}-c"]
    for tenant in tenants:
        store = source.for_tenant(tenant).kv
        keys = [(f"scope{i % 3}\t", f"k{i}{_tricky_text(rng)}") for i in range(28)]
        for scope, key in keys:
            store.put(scope, key, {"v": _tricky_text(rng)})
        store.put(*keys[0], "second version")  # 28 entries, 29 kept versions

    report = migrate(source, target, components=["kv"], tenants=tenants[1:2], batch_size=batch_size)

    [unit] = report.units
    assert (unit.rows, unit.target_rows) == (28 + 29, 28 + 29)
    assert _kv_of(target, tenants[1]) == _kv_of(source, tenants[1])
    assert _kv_of(target, tenants[0]) == _kv_of(target, tenants[2]) == []


def test_state_timestamps_stored_in_other_forms_arrive_as_the_same_instant_and_validate(
    make_store: MakeStore, unique_tenant: str
) -> None:
    # kv is checked by the lines' checksum, computed by PostgreSQL: a timestamp stored with an
    # offset, a 'T' or as a date alone is written as UTC text first, so both sides agree
    source = make_store("sqlite", "source")
    target = make_store("postgres", "target")
    store = source.for_tenant(unique_tenant).kv
    stored = {
        "a": "2026-01-02T03:04:05.000006",
        "b": "2026-01-02 03:04:05.5+02:00",
        "c": "2026-01-02 03:04:05-05:30",
        "d": "2026-01-02",
        "e": "2026-01-02 03:04:05.123456",
        "f": "2026-01-02 03:04:05.120000",  # trailing zeros: PostgreSQL prints .12
        "g": "2026-01-02 03:04:00.000000",  # a whole second: printed without a fraction
    }
    for key in stored:
        store.put("app", key, key)
    with source.database("kv").for_tenant(unique_tenant).transaction(write=True) as conn:
        for key, text in stored.items():
            conn.exec_driver_sql(
                "UPDATE kv_entries SET updated_at = ? WHERE tenant_id = ? AND key = ?",
                (text, unique_tenant, key),
            )

    report = migrate(source, target, components=["kv"], tenants=[unique_tenant])

    [unit] = report.units
    assert unit.target_checksum == unit.checksum and unit.target_rows == 14
    assert _kv_of(target, unique_tenant) == _kv_of(source, unique_tenant)
    with target.database("kv").for_tenant(unique_tenant).transaction() as conn:
        query = select(kv_entries.c.key, kv_entries.c.updated_at)
        moments = dict(tuple(row) for row in conn.execute(query))
    assert moments["b"] == datetime(2026, 1, 2, 1, 4, 5, 500000, tzinfo=UTC)
    assert moments["f"] == datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=UTC)
    assert moments["g"] == datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    assert moments["d"] == datetime(2026, 1, 2, tzinfo=UTC)


def test_a_value_changed_on_the_way_fails_the_lines_checksum_and_nothing_is_written(
    make_store: MakeStore, unique_tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = make_store("sqlite", "source")
    target = make_store("postgres", "target")
    store = source.for_tenant(unique_tenant).kv
    for i in range(20):
        store.put("app", f"key-{i}", {"text": "tab\there"})
    real = write_rows

    def changing(conn: Any, table: Any, rows: Any, stored: Any = None) -> None:
        assert isinstance(rows, CopyText) and rows.typed is None  # kv: hashed as lines
        changed = CopyText(rows.data.replace(b"tab\\\\there", b"tab\\\\thebe"), rows.rows)
        real(conn, table, changed, stored)

    monkeypatch.setattr("llmspell.storage.ops.transfer.write_rows", changing)
    with pytest.raises(TransferError, match=r"the target holds 40 rows with checksum \w+ after"):
        migrate(source, target, components=["kv"], tenants=[unique_tenant], batch_size=8)
    assert _kv_of(target, unique_tenant) == []


def test_hashed_move_is_for_tables_whose_rows_postgres_prints_as_sqlite_writes_them() -> None:
    assert line_checked(kv_entries) and not line_checked(hook_history)  # floats
    with pytest.raises(ValueError, match="hashed_move: table 'hook_history' has columns"):
        hashed_move(hook_history, "llmspell_copy_hook_history", True)


class _RolledBack(Exception):
    """Raised to end a transaction without its writes."""


def _stored_digest(target: SqlStorage, tenant: str, batches: list[CopyText]) -> Digest:
    """What PostgreSQL hashes of `batches` as it stores them into kv_entries (rolled back)."""
    stored = Digest()
    database = target.database("kv").for_tenant(tenant)
    with (
        pytest.raises(_RolledBack),
        database.transaction(write=True, settings={COPYING_SETTING: "on"}) as conn,
    ):
        for batch in batches:
            write_rows(conn, kv_entries, batch, stored)
        raise _RolledBack
    return stored


def _sent_digest(batches: list[CopyText]) -> Digest:
    sent = Digest()
    for batch in batches:
        sent.add_lines(batch.data, batch.rows)
    return sent


def test_lines_come_in_key_order_and_postgres_hashes_the_rows_it_stores_to_the_same_digest(
    make_store: MakeStore, unique_tenant: str
) -> None:
    # keys PostgreSQL's default collation would order otherwise (case, accents, emoji,
    # prefixes, characters COPY escapes), put in random order; values with and without a
    # backslash (printed back escaped or as they are), timestamps with trailing zeros
    source = make_store("sqlite", "source")
    target = make_store("postgres", "target")
    keys = ["B", "a", "É", "e", "z", "😀", "é", "a b", "a", "ab", "a\tb", "a\tc", "\t", "Z", ""]
    keys = sorted({f"{key}{i}" for i, key in enumerate(keys)} | set(keys))
    random.Random(3).shuffle(keys)
    with source.database("kv").for_tenant(unique_tenant).transaction(write=True) as conn:
        for i, key in enumerate(keys):
            moment = datetime(2026, 1, 2, 3, 4, 5, (i % 3) * 100_000, tzinfo=UTC)
            # scope S (first in key order) holds no character COPY escapes
            escaped = i % 2 or "\t" in key
            value = f'"back\\\\slash {i}"' if escaped else f'"plain {i}"'
            conn.execute(
                insert(kv_entries),
                {
                    "tenant_id": unique_tenant,
                    "scope": "s\té" if escaped else "S",
                    "key": key,
                    "value": value,
                    "version": 1,
                    "updated_at": moment,
                },
            )
        batches = list(copy_text(conn, kv_entries, unique_tenant, 4))

    assert any(b"\\" in batch.data for batch in batches)
    assert any(b"\\" not in batch.data for batch in batches)
    lines = b"".join(batch.data for batch in batches).splitlines()
    # (no scope or key holds a backslash: a tab is the only escape in them)
    sent = [tuple(f.replace(b"\\t", b"\t") for f in line.split(b"\t")[1:3]) for line in lines]
    assert sent == sorted(sent) and len(sent) == len(keys)  # UTF-8 bytes: SQLite's BINARY order
    stored = _stored_digest(target, unique_tenant, batches)
    assert stored.matches(_sent_digest(batches)) and stored.rows == len(keys)


def _line_changed(batch: CopyText, change: Callable[[list[bytes]], list[bytes]]) -> CopyText:
    lines = change(batch.data.splitlines(keepends=True))
    return CopyText(b"".join(lines), len(lines))


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda lines: [lines[0].replace(b"plain", b"plane"), *lines[1:]], "a changed value"),
        (lambda lines: [lines[0].replace(b"\t1\t", b"\t2\t"), *lines[1:]], "a changed version"),
        (lambda lines: lines[1:], "a missing row"),
    ],
)
def test_postgres_hashes_a_changed_or_missing_row_to_another_digest(
    make_store: MakeStore,
    unique_tenant: str,
    change: Callable[[list[bytes]], list[bytes]],
    why: str,
) -> None:
    source = make_store("sqlite", "source")
    target = make_store("postgres", "target")
    store = source.for_tenant(unique_tenant).kv
    for i in range(6):
        store.put("app", f"key-{i}", f"plain {i}")
    with source.database("kv").for_tenant(unique_tenant).transaction() as conn:
        batches = list(copy_text(conn, kv_entries, unique_tenant, 3))
    sent = _sent_digest(batches)
    assert _stored_digest(target, unique_tenant, batches).matches(sent)

    altered = [_line_changed(batches[0], change), *batches[1:]]
    stored = _stored_digest(target, unique_tenant, altered)
    assert not stored.matches(sent), why


def test_lines_sent_out_of_key_order_do_not_match_what_postgres_hashes(
    make_store: MakeStore, unique_tenant: str
) -> None:
    # the digest is of the lines in key order: a source that sent them otherwise is refused
    source = make_store("sqlite", "source")
    target = make_store("postgres", "target")
    store = source.for_tenant(unique_tenant).kv
    for i in range(3):
        store.put("app", f"key-{i}", f"plain {i}")
    with source.database("kv").for_tenant(unique_tenant).transaction() as conn:
        [batch] = list(copy_text(conn, kv_entries, unique_tenant, 3))
    swapped = [_line_changed(batch, lambda lines: [lines[1], lines[0], lines[2]])]
    assert not _stored_digest(target, unique_tenant, swapped).matches(_sent_digest(swapped))
    assert _stored_digest(target, unique_tenant, swapped).matches(_sent_digest([batch]))


def test_a_doubled_row_writes_nothing_of_its_unit(
    make_store: MakeStore, unique_tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = make_store("sqlite", "source")
    target = make_store("postgres", "target")
    store = source.for_tenant(unique_tenant).kv
    for i in range(6):
        store.put("app", f"key-{i}", f"plain {i}")
    real = write_rows

    def doubling(conn: Any, table: Any, rows: Any, stored: Any = None) -> None:
        real(conn, table, _line_changed(rows, lambda lines: [lines[0], *lines]), stored)

    monkeypatch.setattr("llmspell.storage.ops.transfer.write_rows", doubling)
    with pytest.raises(StorageError):
        migrate(source, target, components=["kv"], tenants=[unique_tenant], batch_size=4)
    assert _kv_of(target, unique_tenant) == []


def test_a_batch_past_sqlites_string_limit_is_read_row_by_row(
    make_store: MakeStore, unique_tenant: str
) -> None:
    source = make_store("sqlite", "source")
    store = source.for_tenant(unique_tenant).kv
    for i in range(30):
        store.put("app", f"key-{i:02d}", "x" * 200)
    with source.database("kv").for_tenant(unique_tenant).transaction() as conn:
        driver: Any = conn.connection.driver_connection
        limit = driver.getlimit(sqlite3.SQLITE_LIMIT_LENGTH)
        driver.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 2000)  # ~7 rows' lines
        try:
            batches = list(copy_text(conn, kv_entries, unique_tenant, 10))
        finally:
            driver.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, limit)
    assert [batch.rows for batch in batches] == [10, 10, 10]
    lines = b"".join(batch.data for batch in batches).decode().splitlines()
    assert sorted(line.split("\t")[2] for line in lines) == [f"key-{i:02d}" for i in range(30)]
    assert {line.split("\t")[3] for line in lines} == {'"' + "x" * 200 + '"'}


def test_a_batch_past_the_piece_size_comes_in_pieces_of_whole_lines_and_validates(
    make_store: MakeStore, unique_tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostgreSQL hashes a piece as one string: pieces keep that string far below its 1 GB
    source = make_store("sqlite", "source")
    target = make_store("postgres", "target")
    store = source.for_tenant(unique_tenant).kv
    for i in range(12):
        store.put("app", f"key-{i:02d}", "x" * (400 if i == 5 else 20))  # one line > a piece
    with source.database("kv").for_tenant(unique_tenant).transaction() as conn:
        [whole] = list(copy_text(conn, kv_entries, unique_tenant, 100))
        monkeypatch.setattr("llmspell.storage.ops.copy_text.PIECE_BYTES", 300)
        pieces = list(copy_text(conn, kv_entries, unique_tenant, 100))

    assert b"".join(piece.data for piece in pieces) == whole.data
    assert [piece.rows for piece in pieces] == [p.data.count(b"\n") for p in pieces]
    assert sum(piece.rows for piece in pieces) == whole.rows == 12 and len(pieces) > 3
    for piece in pieces:
        assert piece.data.endswith(b"\n")
        assert len(piece.data) <= 300 or piece.rows == 1
    report = migrate(source, target, components=["kv"], tenants=[unique_tenant], batch_size=100)
    [unit] = report.units
    assert (unit.target_rows, unit.target_checksum) == (unit.rows, unit.checksum)
    assert _kv_of(target, unique_tenant) == _kv_of(source, unique_tenant)


def _value(column: Any, i: int) -> Any:
    """A value for any column of any table; text alike across tables, so foreign keys hold."""
    kind = column.type
    if isinstance(kind, Embedding):
        return np.linspace(-1, 1, kind.dimension, dtype=np.float32) * (i + 1)
    if isinstance(kind, UtcDateTime):
        return datetime(2026, 1, 2, 3, 4, 5, 6 + i, tzinfo=UTC)
    if isinstance(kind, Boolean):
        return bool(i % 2)
    if isinstance(kind, Integer):
        return i
    if isinstance(kind, Float):
        return 0.1 + i
    if isinstance(kind, LargeBinary):
        return bytes([0, 255, i])
    if isinstance(kind, JSON):
        return {"tab\there": [i, "back\\slash", None]}
    return f"v{i}\t\\"


def _rows_of(table: Any) -> int:
    return 2 if len(table.primary_key.columns) > 1 else 1  # a key of the tenant alone: one


@pytest.mark.parametrize("source_kind", ["sqlite", "memory"])
def test_every_table_of_every_component_copies_with_equal_checksums(
    make_store: MakeStore, source_kind: str, unique_tenant: str
) -> None:
    source = make_store(source_kind, "source")
    target = make_store("postgres", "target")
    for component in registry.components():
        database = source.database(component.name).for_tenant(unique_tenant)
        with database.transaction(write=True) as conn:
            for table in load_order(component):
                for i in range(_rows_of(table)):
                    row = {column.name: _value(column, i) for column in table.columns}
                    nullable = [column.name for column in table.columns if column.nullable]
                    row |= dict.fromkeys(nullable[i::2]) | {"tenant_id": unique_tenant}
                    # a state entry's first version is in kv_history already (the trigger
                    # wrote it, equal to the row here)
                    conn.execute(upsert_into("sqlite", table).on_conflict_do_nothing(), row)

    report = migrate(source, target, tenants=[unique_tenant], batch_size=1)

    assert report.rows == sum(_rows_of(t) for c in registry.components() for t in c.tables)
    for unit in report.units:
        assert unit.status == "copied" and unit.target_checksum == unit.checksum, unit
