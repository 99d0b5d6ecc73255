"""`storage.ops.migrate`: every component's rows go from one backend to another, tenant by
tenant, whole or not at all, and a rerun after a kill -9 resumes to the same rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, insert, select
from transfer_helpers import (
    FILLED,
    MakeStore,
    assert_state_continues,
    contents,
    fill,
    put_versions,
    state_rows,
)

from llmspell.storage import StorageSettings, open_storage, registry
from llmspell.storage.components.hooks import hook_history
from llmspell.storage.components.kv import kv_entries
from llmspell.storage.ops.copy_text import CopyText
from llmspell.storage.ops.migrate import migrate
from llmspell.storage.ops.rows import tenant_rows
from llmspell.storage.ops.transfer import TransferError

BACKENDS = ["memory", "sqlite", "postgres"]


# One session PostgreSQL: it cannot be both source and target.
PAIRS = [(s, t) for s in BACKENDS for t in BACKENDS if (s, t) != ("postgres", "postgres")]


@pytest.mark.parametrize(("source_kind", "target_kind"), PAIRS)
def test_migrate_copies_every_tenants_rows_with_equal_checksums(
    make_store: MakeStore, source_kind: str, target_kind: str, unique_tenant: str
) -> None:
    source = make_store(source_kind, "source")
    target = make_store(target_kind, "target")
    tenants = [f"{unique_tenant}-a", f"{unique_tenant}-b"]
    for tenant in tenants:
        fill(source, tenant)

    report = migrate(source, target, tenants=tenants, batch_size=7)

    assert {(u.component, u.tenant) for u in report.units} >= {
        (c, t) for c in FILLED for t in tenants
    }
    for unit in report.units:
        assert unit.status == "copied"
        assert (unit.target_rows, unit.target_checksum) == (unit.rows, unit.checksum)
    for tenant in tenants:
        assert contents(target, tenant) == contents(source, tenant)
    assert report.totals()["kv"][0] == 2 * (30 + 31)  # entries + history rows


@pytest.mark.parametrize("validate", [True, False])
@pytest.mark.parametrize(("source_kind", "target_kind"), PAIRS)
def test_migrated_state_has_exactly_the_sources_history_rows_none_twice(
    make_store: MakeStore, source_kind: str, target_kind: str, validate: bool, unique_tenant: str
) -> None:
    # The target's database records a new entry's first version (revision 0018); the copy
    # writes the source's history rows, so the trigger must neither double nor refuse them.
    source = make_store(source_kind, "source")
    target = make_store(target_kind, "target")
    put_versions(source, unique_tenant)

    report = migrate(source, target, components=["kv"], tenants=[unique_tenant], validate=validate)

    [unit] = report.units
    assert (unit.rows, unit.target_rows) == (5 + 7, 5 + 7)
    assert unit.target_checksum == (unit.checksum if validate else "")
    assert state_rows(target, unique_tenant) == state_rows(source, unique_tenant)
    assert_state_continues(target, unique_tenant)


def test_postgres_source_lists_its_tenants_through_row_level_security(
    make_store: MakeStore, unique_tenant: str
) -> None:
    source = make_store("postgres", "source")
    target = make_store("sqlite", "target")
    for tenant in (f"{unique_tenant}-a", f"{unique_tenant}-b"):
        source.for_tenant(tenant).kv.put("s", "k", 1)

    report = migrate(source, target, components=["kv"], dry_run=True)

    listed = {unit.tenant for unit in report.units}
    assert {f"{unique_tenant}-a", f"{unique_tenant}-b"} <= listed
    # the owner's FORCE was lifted only inside a rolled-back transaction
    with source.database("kv").for_tenant("nobody").transaction() as conn:
        assert conn.execute(select(kv_entries.c.tenant_id)).all() == []


@pytest.mark.parametrize("target_kind", ["sqlite", "postgres"])
def test_dry_run_counts_and_writes_nothing(
    make_store: MakeStore, target_kind: str, unique_tenant: str
) -> None:
    source = make_store("sqlite", "source")
    target = make_store(target_kind, "target")
    fill(source, unique_tenant)

    report = migrate(source, target, tenants=[unique_tenant], dry_run=True)

    assert report.dry_run and {u.status for u in report.units} == {"would copy"}
    assert report.totals()["kv"] == (61, 0)
    assert target.for_tenant(unique_tenant).kv.list_keys("app") == []


@pytest.mark.parametrize("target_kind", BACKENDS)
def test_rows_the_target_already_holds_are_refused_and_left_alone(
    make_store: MakeStore, target_kind: str, unique_tenant: str
) -> None:
    source = make_store("sqlite", "source")
    target = make_store(target_kind, "target")
    fill(source, unique_tenant)
    target.for_tenant(unique_tenant).kv.put("app", "mine", "keep me")

    for resume in (False, True):
        with pytest.raises(TransferError, match="already holds 2 rows of component 'kv'"):
            migrate(source, target, components=["kv"], tenants=[unique_tenant], resume=resume)

    assert target.for_tenant(unique_tenant).kv.list_keys("app") == ["mine"]


@pytest.mark.parametrize("target_kind", BACKENDS)
def test_rerun_with_resume_keeps_units_already_copied(
    make_store: MakeStore, target_kind: str, unique_tenant: str
) -> None:
    source = make_store("sqlite", "source")
    target = make_store(target_kind, "target")
    fill(source, unique_tenant)
    migrate(source, target, components=["kv"], tenants=[unique_tenant])

    with pytest.raises(TransferError, match=r"nothing was written.*--resume"):
        migrate(source, target, tenants=[unique_tenant])
    assert target.for_tenant(unique_tenant).events.query() == []
    report = migrate(source, target, tenants=[unique_tenant], resume=True)

    statuses = {u.component: u.status for u in report.units}
    assert statuses["kv"] == "already there"
    assert statuses["events"] == "copied"
    assert contents(target, unique_tenant) == contents(source, unique_tenant)


def test_a_unit_that_fails_leaves_nothing_of_it_in_the_target(
    make_store: MakeStore, unique_tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = make_store("sqlite", "source")
    target = make_store("postgres", "target")
    fill(source, unique_tenant, keys=50)
    from llmspell.storage.ops import endpoints

    calls = {"n": 0}
    real = endpoints.write_rows

    def failing(conn: Any, table: Any, rows: Any, stored: Any = None) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        real(conn, table, rows, stored)

    monkeypatch.setattr("llmspell.storage.ops.transfer.write_rows", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        migrate(source, target, components=["kv"], tenants=[unique_tenant], batch_size=10)

    assert target.for_tenant(unique_tenant).kv.list_keys("app") == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, "migrate: batch_size must be a positive integer, got 0"),
        ({"components": ["kv", "nope"]}, r"unknown \['nope'\]; allowed: agent_state"),
        ({"tenants": "t1"}, "tenants must be a non-empty list of tenant ids"),
        ({"tenants": ["bad tenant"]}, "tenant id 'bad tenant' is invalid"),
    ],
)
def test_bad_arguments_are_refused_naming_the_value(
    make_store: MakeStore, kwargs: dict[str, object], message: str
) -> None:
    source = make_store("memory", "source")
    target = make_store("memory", "target")
    with pytest.raises(ValueError, match=message):
        migrate(source, target, **kwargs)  # type: ignore[arg-type]


def test_the_same_sqlite_file_as_source_and_target_is_refused(tmp_path: Path) -> None:
    settings = StorageSettings(backend="sqlite", sqlite_path=str(tmp_path / "one.db"))
    with pytest.raises(ValueError, match="same sqlite database as source and target"):
        migrate(settings, settings.with_changes())


KILLABLE = textwrap.dedent(
    """
    import sys
    import time
    from llmspell.storage import StorageSettings
    from llmspell.storage.ops.migrate import migrate

    source = StorageSettings(backend="sqlite", sqlite_path=sys.argv[1])
    target = StorageSettings(
        backend="postgres", pg_url=sys.argv[2], pg_admin_url=sys.argv[3], auto_upgrade=False
    )
    tenants = sys.argv[4].split(",")
    resume = sys.argv[5] == "resume"

    batches = {"kv": 0}

    def progress(component, rows):
        print(component, rows, flush=True)
        if component == "kv" and not resume:
            batches["kv"] += 1
            if batches["kv"] == 4:  # half-way through the first kv unit: wait for the kill
                print("paused", flush=True)
                time.sleep(600)

    migrate(source, target, tenants=tenants, batch_size=5, resume=resume, progress=progress)
    print("done", flush=True)
    """
)


@pytest.mark.slow
def test_kill_9_in_the_middle_then_resume_ends_with_identical_rows(
    tmp_path: Path, pg_settings: StorageSettings, unique_tenant: str
) -> None:
    path = tmp_path / "source.db"
    source = open_storage(StorageSettings(backend="sqlite", sqlite_path=str(path)), "opener")
    tenants = [f"{unique_tenant}-a", f"{unique_tenant}-b"]
    for tenant in tenants:
        fill(source, tenant)
    args = [
        sys.executable,
        "-c",
        KILLABLE,
        str(path),
        pg_settings.pg_url,
        pg_settings.pg_admin_url,
        ",".join(tenants),
    ]
    child = subprocess.Popen([*args, "fresh"], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    seen: list[str] = []
    # the child pauses half-way through its first kv unit, after the artifacts, events and
    # graph units of both tenants have committed
    while not seen or seen[-1] != "paused":
        line = child.stdout.readline()
        assert line, f"the migration ended before it could be killed: {seen}"
        seen.append(line.strip())
    os.kill(child.pid, signal.SIGKILL)
    child.wait()

    target = open_storage(pg_settings, "opener")
    try:
        first_tenant = target.for_tenant(tenants[0])
        assert first_tenant.artifacts.list("session-1")  # committed before the kill
        assert first_tenant.kv.list_keys("app") == []  # the unit killed half-way: none of it

        rerun = subprocess.run([*args, "fresh"], capture_output=True, text=True)
        assert rerun.returncode != 0 and "--resume" in rerun.stderr

        resumed = subprocess.run([*args, "resume"], capture_output=True, text=True)
        assert resumed.returncode == 0, resumed.stderr
        assert resumed.stdout.strip().endswith("done")
        for tenant in tenants:
            assert contents(target, tenant) == contents(source, tenant)
        report = migrate(source, target, tenants=tenants, resume=True)
        assert {u.status for u in report.units} == {"already there"}
        assert all(u.target_checksum == u.checksum for u in report.units)
    finally:
        target.close()
        source.close()


def test_read_ahead_hands_a_reading_error_to_the_writer_and_stops_when_the_writer_does() -> None:
    import threading

    from llmspell.storage.ops.rows import Digest
    from llmspell.storage.ops.transfer import read_ahead

    def failing() -> Iterator[tuple[Table, list[tuple[object, ...]]]]:
        yield kv_entries, [("t", "s", "k", "1", 1, None)]
        raise ValueError("line 7 is not JSON")

    got = []
    with pytest.raises(ValueError, match="line 7 is not JSON"):
        for item in read_ahead(failing(), Digest()):
            got.append(item)
    assert len(got) == 1

    endless = ((kv_entries, [("t", "s", str(i), "1", 1, None)]) for i in range(10**9))
    digest = Digest()
    for index, _ in enumerate(read_ahead(endless, digest)):
        if index == 3:
            break
    assert 4 <= digest.rows <= 4 + 3  # read at most `depth` (+1 in hand) ahead, then stopped
    assert not any(t.name == "llmspell-transfer-read" for t in threading.enumerate())


def _hook_row(tenant: str, i: int) -> dict[str, object]:
    return {
        "tenant_id": tenant,
        "execution_id": f"x{i}",
        "hook_point": "BeforeStateWrite",
        "hook_id": "h",
        "hook_name": None if i % 2 else "named",
        "component": "state",
        "correlation_id": None,
        "session_id": "s",
        "started_at": datetime(2026, 1, 2, 3, 4, 5, i, tzinfo=UTC),
        "duration_ms": 0.1 * i,
        "result": "continue",
        "error": None,
        "context": bytes([0, 255, i % 256]),
        "context_compressed": bool(i % 2),
    }


@pytest.mark.parametrize("source_kind", ["memory", "sqlite"])
def test_bytes_booleans_floats_timestamps_and_nulls_survive_a_copy_to_postgres(
    make_store: MakeStore, source_kind: str, unique_tenant: str
) -> None:
    # hook_history: text, float8, bytea, bool, timestamptz (from SQLite, as SQLite's COPY text).
    source = make_store(source_kind, "source")
    target = make_store("postgres", "target")
    rows = [_hook_row(unique_tenant, i) for i in range(25)]
    with source.database("hooks").for_tenant(unique_tenant).transaction(write=True) as conn:
        conn.execute(insert(hook_history), rows)

    report = migrate(source, target, components=["hooks"], tenants=[unique_tenant], batch_size=10)

    assert [(u.rows, u.target_rows) for u in report.units] == [(25, 25)]
    query = select(hook_history).order_by(hook_history.c.execution_id)
    with target.database("hooks").for_tenant(unique_tenant).transaction() as conn:
        copied = [dict(row._mapping) for row in conn.execute(query)]
    assert copied == sorted(rows, key=lambda row: str(row["execution_id"]))


@pytest.mark.parametrize("kind", BACKENDS)
def test_rows_read_for_a_transfer_are_the_rows_sqlalchemy_reads(
    make_store: MakeStore, kind: str, unique_tenant: str
) -> None:
    storage = make_store(kind, "rows")
    fill(storage, unique_tenant)
    for component in registry.components():
        database = storage.database(component.name).for_tenant(unique_tenant)
        for table in component.tables:
            with database.transaction() as conn:
                read = [
                    row for batch in tenant_rows(conn, table, unique_tenant, 4) for row in batch
                ]
                query = select(table).where(table.c.tenant_id == unique_tenant)
                expected = [tuple(row) for row in conn.execute(query)]
            assert sorted(map(repr, read)) == sorted(map(repr, expected)), table.name


def test_a_copy_without_read_back_that_loses_a_row_is_refused(
    make_store: MakeStore, unique_tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = make_store("sqlite", "source")
    target = make_store("postgres", "target")
    fill(source, unique_tenant, keys=20)
    from llmspell.storage.ops import endpoints

    real = endpoints.write_rows

    def losing(conn: Any, table: Any, rows: Any) -> None:
        # the source is SQLite and the target PostgreSQL: the rows come as COPY text
        assert isinstance(rows, CopyText)
        lines = rows.data.split(b"\n")[:-1]  # each line ends with a newline
        real(conn, table, CopyText(b"".join(line + b"\n" for line in lines[:-1]), rows.rows - 1))

    monkeypatch.setattr("llmspell.storage.ops.transfer.write_rows", losing)
    with pytest.raises(TransferError, match=r"rows were read but the target holds \d+ after"):
        migrate(source, target, components=["kv"], tenants=[unique_tenant], validate=False)
    assert target.for_tenant(unique_tenant).kv.list_keys("app") == []


def test_a_copy_without_read_back_reports_no_checksum_it_did_not_compare(
    make_store: MakeStore, unique_tenant: str
) -> None:
    source = make_store("sqlite", "source")
    target = make_store("postgres", "target")
    fill(source, unique_tenant, keys=20)
    report = migrate(source, target, components=["kv"], tenants=[unique_tenant], validate=False)
    assert [(u.rows, u.target_rows, u.checksum, u.target_checksum) for u in report.units] == [
        (41, 41, "", "")
    ]
