"""`storage.ops.backup` / `restore` / `prune_events`: a JSON Lines backup of any backend
restores onto any backend with the same rows; a damaged backup writes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from transfer_helpers import (
    BODY,
    FILLED,
    MakeStore,
    assert_state_continues,
    contents,
    fill,
    put_versions,
    state_rows,
)

from llmspell.storage import SqlStorage
from llmspell.storage.ops.backup import backup, restore
from llmspell.storage.ops.retention import prune_events
from llmspell.storage.ops.transfer import TransferError

BACKENDS = ["memory", "sqlite", "postgres"]


@pytest.mark.parametrize("target_kind", BACKENDS)
@pytest.mark.parametrize("source_kind", BACKENDS)
def test_backup_restores_onto_every_backend_with_the_same_rows(
    make_store: MakeStore, source_kind: str, target_kind: str, unique_tenant: str, tmp_path: Path
) -> None:
    source = make_store(source_kind, "source")
    tenants = [f"{unique_tenant}-a", f"{unique_tenant}-b"]
    for tenant in tenants:
        fill(source, tenant)
    taken = backup(source, tmp_path / "backup", tenants=tenants, batch_size=4)
    # a PostgreSQL source must be emptied of these tenants before restoring onto it
    target = source if source_kind == target_kind == "postgres" else None
    if target is not None:
        expected = {tenant: contents(source, tenant) for tenant in tenants}
        for tenant in tenants:
            _empty(target, tenant)
    else:
        expected = {tenant: contents(source, tenant) for tenant in tenants}
        target = make_store(target_kind, "target")

    restored = restore(target, tmp_path / "backup", batch_size=3)

    assert {(u.component, u.tenant) for u in restored.units} >= {
        (c, t) for c in FILLED for t in tenants
    }
    assert sorted((u.component, u.tenant, u.checksum) for u in restored.units) == sorted(
        (u.component, u.tenant, u.checksum) for u in taken.units
    )
    for tenant in tenants:
        assert contents(target, tenant) == expected[tenant]


@pytest.mark.parametrize("target_kind", BACKENDS)
def test_restored_state_keeps_its_versions_and_later_writes_continue_them(
    make_store: MakeStore, target_kind: str, unique_tenant: str, tmp_path: Path
) -> None:
    # The restore inserts entries with their history rows; the database records the versions
    # of later writes (revision 0015), neither twice.
    source = make_store("sqlite", "source")
    kv = source.for_tenant(unique_tenant).kv
    for value in ("v1", "v2", "v3"):
        kv.put("app", "k", value)
    backup(source, tmp_path / "backup", tenants=[unique_tenant])
    target = make_store(target_kind, "target").for_tenant(unique_tenant)
    restore(target, tmp_path / "backup")

    assert [(h.version, h.value) for h in target.kv.history("app", "k")] == [
        (3, "v3"),
        (2, "v2"),
        (1, "v1"),
    ]
    assert target.kv.put("app", "k", "v4") == 4
    assert [h.version for h in target.kv.history("app", "k")] == [4, 3, 2, 1]
    assert target.kv.usage().versions == 4


@pytest.mark.parametrize("validate", [True, False])
@pytest.mark.parametrize("target_kind", BACKENDS)
@pytest.mark.parametrize("source_kind", BACKENDS)
def test_restored_state_has_exactly_the_backups_history_rows_none_twice(
    make_store: MakeStore,
    source_kind: str,
    target_kind: str,
    validate: bool,
    unique_tenant: str,
    tmp_path: Path,
) -> None:
    # The backup lists entries before their history rows; the target's database records each
    # entry's first version as it is inserted (revision 0018) unless the copy keeps it from that.
    source = make_store(source_kind, "source")
    put_versions(source, unique_tenant)
    backup(source, tmp_path / "backup", components=["kv"], tenants=[unique_tenant])
    expected = state_rows(source, unique_tenant)
    if source_kind == target_kind == "postgres":  # one session PostgreSQL: empty it first
        _empty(source, unique_tenant)
        target = source
    else:
        target = make_store(target_kind, "target")

    [unit] = restore(target, tmp_path / "backup", validate=validate).units

    assert (unit.rows, unit.target_rows) == (5 + 7, 5 + 7)
    assert unit.target_checksum == (unit.checksum if validate else "")
    assert state_rows(target, unique_tenant) == expected
    assert_state_continues(target, unique_tenant)


def _empty(storage: SqlStorage, tenant: str) -> None:
    from llmspell.storage import registry

    for component in registry.components():
        db = storage.database(component.name).for_tenant(tenant)
        with db.transaction(write=True) as conn:
            for table in reversed(component.tables):
                conn.execute(table.delete().where(table.c.tenant_id == tenant))


def test_backup_files_are_json_lines_with_a_manifest_of_counts_and_checksums(
    make_store: MakeStore, unique_tenant: str, tmp_path: Path
) -> None:
    source = make_store("sqlite", "source")
    fill(source, unique_tenant)

    report = backup(source, tmp_path / "b", components=["kv", "artifacts"])

    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["format"] == "llmspell-backup"
    assert manifest["components"]["kv"]["tenants"][unique_tenant]["rows"] == 61
    lines = (tmp_path / "b" / "kv.jsonl").read_text().splitlines()
    assert len(lines) == 61
    first = json.loads(lines[0])
    assert first["tenant"] == unique_tenant and first["table"] in ("kv_entries", "kv_history")
    chunks = [
        json.loads(line)
        for line in (tmp_path / "b" / "artifacts.jsonl").read_text().splitlines()
        if '"artifact_chunks"' in line
    ]
    assert len(chunks) > 1  # the body went out as several chunk rows, not one line
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == [
        "artifacts.jsonl",
        "kv.jsonl",
        "manifest.json",
    ]
    assert report.rows == sum(
        t["rows"] for c in manifest["components"].values() for t in c["tenants"].values()
    )
    assert len(BODY) > 1_000_000


@pytest.mark.parametrize("target_kind", BACKENDS)
def test_a_damaged_backup_writes_nothing_of_that_unit(
    make_store: MakeStore, target_kind: str, unique_tenant: str, tmp_path: Path
) -> None:
    source = make_store("sqlite", "source")
    fill(source, unique_tenant)
    backup(source, tmp_path / "b", components=["kv"])
    file = tmp_path / "b" / "kv.jsonl"
    file.write_text(file.read_text().replace("second version", "edited!"))
    target = make_store(target_kind, "target")

    with pytest.raises(TransferError, match="the source says 61 rows with checksum"):
        restore(target, tmp_path / "b")

    assert target.for_tenant(unique_tenant).kv.list_keys("app") == []


@pytest.mark.parametrize("target_kind", BACKENDS)
def test_restore_refuses_a_tenant_the_target_already_has_and_resume_keeps_equal_units(
    make_store: MakeStore, target_kind: str, unique_tenant: str, tmp_path: Path
) -> None:
    source = make_store("sqlite", "source")
    fill(source, unique_tenant)
    backup(source, tmp_path / "b")
    target = make_store(target_kind, "target")
    restore(target, tmp_path / "b", components=["kv"])

    with pytest.raises(TransferError, match=r"already holds 61 rows of component 'kv'"):
        restore(target, tmp_path / "b")
    assert target.for_tenant(unique_tenant).events.query() == []
    report = restore(target, tmp_path / "b", resume=True)

    assert {u.component: u.status for u in report.units}["kv"] == "already there"
    assert contents(target, unique_tenant) == contents(source, unique_tenant)


def test_backup_refuses_a_directory_that_is_not_empty_and_restore_an_unfinished_one(
    make_store: MakeStore, tmp_path: Path
) -> None:
    source = make_store("memory", "source")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(ValueError, match="exists and is not an empty directory"):
        backup(source, tmp_path / "full")
    with pytest.raises(ValueError, match=r"holds no manifest\.json"):
        restore(source, tmp_path / "full")
    with pytest.raises(ValueError, match="backup: batch_size must be a positive integer"):
        backup(source, tmp_path / "new", batch_size=-1)


def test_restore_refuses_a_backup_of_another_schema_revision(
    make_store: MakeStore, tmp_path: Path
) -> None:
    source = make_store("memory", "source")
    backup(source, tmp_path / "b")
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    manifest["revision"] = "0001"
    (tmp_path / "b" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="taken at schema revision '0001'"):
        restore(make_store("memory", "target"), tmp_path / "b")


def test_restore_refuses_a_component_the_backup_does_not_hold(
    make_store: MakeStore, tmp_path: Path
) -> None:
    source = make_store("memory", "source")
    backup(source, tmp_path / "b", components=["kv"])
    with pytest.raises(ValueError, match="the backup holds no component 'events'; it holds kv"):
        restore(make_store("memory", "target"), tmp_path / "b", components=["events"])


@pytest.mark.parametrize("kind", BACKENDS)
def test_prune_events_deletes_old_events_of_the_tenants_named(
    make_store: MakeStore, kind: str, unique_tenant: str
) -> None:
    store = make_store(kind, "events")
    old = datetime.now(UTC) - timedelta(days=40)
    for tenant in (f"{unique_tenant}-a", f"{unique_tenant}-b"):
        events = store.for_tenant(tenant).events
        events.append("old", 1, timestamp=old)
        events.append("new", 2)

    pruned = prune_events(
        store, before=datetime.now(UTC) - timedelta(days=30), tenants=[f"{unique_tenant}-a"]
    )

    assert [(p.tenant, p.deleted) for p in pruned] == [(f"{unique_tenant}-a", 1)]
    assert [e.event_type for e in store.for_tenant(f"{unique_tenant}-a").events.query()] == ["new"]
    assert len(store.for_tenant(f"{unique_tenant}-b").events.query()) == 2
    with pytest.raises(ValueError, match="before must be a timezone-aware datetime"):
        prune_events(store, before=datetime(2026, 1, 1))
