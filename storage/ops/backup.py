"""`backup` and `restore`: a portable copy of a storage as JSON Lines, one file per component.

Behind `llmspell storage backup` / `storage restore`. A backup is a directory:

    manifest.json      format, schema revision, per component and tenant: rows and checksum
    <component>.jsonl  one line per row: {"tenant": ..., "table": ..., "row": {column: value}}

Rows are read and written in batches (artifact bodies as their chunk rows), never a whole
component in memory; values are JSON (timestamps ISO 8601, bytes and vectors base64), so a
backup of any backend restores onto any other. The manifest is written last: a directory
without one is an interrupted backup and is refused. A restore writes each tenant's rows of a
component in one transaction that commits only when they match the manifest's checksum.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table

from llmspell.migrations import HEAD
from llmspell.storage import registry
from llmspell.storage.ops.endpoints import (
    Endpoint,
    checked_tenants,
    component_tenants,
    opened,
    selected_components,
    tenant_database,
)
from llmspell.storage.ops.migrate import DEFAULT_BATCH_SIZE, check_batch_size
from llmspell.storage.ops.rows import Digest, Row, decode_row, encode_row, load_order, tenant_rows
from llmspell.storage.ops.transfer import (
    Progress,
    TransferError,
    UnitResult,
    refuse_held_units,
    write_unit,
)
from llmspell.storage.registry import Component

FORMAT = "llmspell-backup"
VERSION = 1
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class BackupReport:
    """What a backup wrote or a restore read: its directory and every unit."""

    directory: Path
    units: tuple[UnitResult, ...]

    @property
    def rows(self) -> int:
        return sum(unit.rows for unit in self.units)


def backup(
    source: Endpoint,
    directory: str | Path,
    *,
    components: Sequence[str] | None = None,
    tenants: Sequence[str] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> BackupReport:
    """Write `components` (default: all) of `tenants` (default: every tenant) of `source` to
    the new or empty `directory`."""
    check_batch_size("backup", batch_size)
    chosen = selected_components(components)
    wanted = checked_tenants(tenants)
    path = Path(directory).expanduser()
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ValueError(f"backup: {path} exists and is not an empty directory; pick a new one")
    path.mkdir(parents=True, exist_ok=True)
    units: list[UnitResult] = []
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "revision": HEAD,
        "created_at": datetime.now(UTC).isoformat(),
        "components": {},
    }
    with opened(source) as storage:
        for component in chosen:
            names = component_tenants(storage, component) if wanted is None else wanted
            recorded: dict[str, Any] = {}
            with (path / f"{component.name}.jsonl").open("w", encoding="utf-8") as out:
                for tenant in names:
                    digest = _write_tenant(storage, component, tenant, out, batch_size, progress)
                    if not digest.rows:  # a tenant named that holds none of these rows
                        continue
                    recorded[tenant] = {"rows": digest.rows, "checksum": digest.checksum}
                    units.append(
                        UnitResult(
                            component.name,
                            tenant,
                            "copied",
                            digest.rows,
                            digest.checksum,
                            digest.rows,
                            digest.checksum,
                        )
                    )
            manifest["components"][component.name] = {"tenants": recorded}
    (path / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return BackupReport(path, tuple(units))


def _write_tenant(
    storage: Any,
    component: Component,
    tenant: str,
    out: Any,
    batch_size: int,
    progress: Progress | None,
) -> Digest:
    digest = Digest()
    with tenant_database(storage, component, tenant).transaction() as conn:
        for table in load_order(component):
            for batch in tenant_rows(conn, table, tenant, batch_size):
                digest.add_batch(table, batch)
                out.writelines(
                    json.dumps(
                        {"tenant": tenant, "table": table.name, "row": encode_row(table, row)},
                        ensure_ascii=False,
                    )
                    + "\n"
                    for row in batch
                )
                if progress is not None:
                    progress(component.name, len(batch))
    return digest


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """The manifest of the backup in `directory`; ValueError when it is not a complete backup
    this version can restore."""
    path = Path(directory).expanduser() / MANIFEST
    if not path.is_file():
        raise ValueError(
            f"restore: {path.parent} holds no {MANIFEST}: not a backup, or one that did not finish"
        )
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"restore: {path} cannot be read as JSON: {exc}") from None
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise ValueError(
            f"restore: {path} is not an {FORMAT} version {VERSION} manifest "
            f"(format {manifest.get('format')!r}, version {manifest.get('version')!r})"
        )
    if manifest.get("revision") != HEAD:
        raise ValueError(
            f"restore: the backup was taken at schema revision {manifest.get('revision')!r}; "
            f"this llmspell writes revision {HEAD!r}. Restore it with the llmspell version "
            "that took it, upgrade that storage, and back it up again"
        )
    return manifest


def restore(
    target: Endpoint,
    directory: str | Path,
    *,
    components: Sequence[str] | None = None,
    tenants: Sequence[str] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    resume: bool = False,
    validate: bool = True,
    progress: Progress | None = None,
) -> BackupReport:
    """Write the backup in `directory` (its `components` and `tenants`, default all) into
    `target`, each tenant's rows of a component in one checked transaction. Units the target
    already holds are refused, unless `resume` and they equal the backup's."""
    check_batch_size("restore", batch_size)
    manifest = read_manifest(directory)
    path = Path(directory).expanduser()
    recorded: dict[str, Any] = manifest["components"]
    unknown = sorted(set(recorded) - set(registry.component_names()))
    if unknown:
        raise ValueError(f"restore: the backup holds unknown components {unknown}")
    chosen = [c for c in selected_components(components) if c.name in recorded]
    absent = sorted(set(components or ()) - set(recorded))
    if absent:
        raise ValueError(
            f"restore: the backup holds no component {absent[0]!r}; it holds "
            f"{', '.join(sorted(recorded)) or 'none'}"
        )
    wanted = checked_tenants(tenants)
    units = [
        (component, tenant)
        for component in chosen
        for tenant in sorted(recorded[component.name]["tenants"])
        if wanted is None or tenant in wanted
    ]
    results: list[UnitResult] = []
    with opened(target) as storage:
        if not resume:
            refuse_held_units(storage, units)
        for component in chosen:
            expected = recorded[component.name]["tenants"]
            for tenant, lines in _tenant_groups(path / f"{component.name}.jsonl"):
                if (component, tenant) not in units:
                    continue
                if tenant not in expected:
                    raise TransferError(
                        f"restore: {component.name}.jsonl holds rows of tenant {tenant!r}, "
                        f"which {MANIFEST} does not list"
                    )
                digest = Digest.of(expected[tenant]["rows"], expected[tenant]["checksum"])
                results.append(
                    write_unit(
                        tenant_database(storage, component, tenant),
                        component,
                        tenant,
                        _batches(component, lines, batch_size),
                        expected=digest,
                        source_digest=lambda: digest,  # noqa: B023 (called at once)
                        resume=resume,
                        validate=validate,
                        batch_size=batch_size,
                        progress=progress,
                    )
                )
    done = {(result.component, result.tenant) for result in results}
    missing = [(c.name, t) for c, t in units if (c.name, t) not in done]
    if missing:
        raise TransferError(
            f"restore: {MANIFEST} lists rows of {missing} that the backup's files do not hold"
        )
    return BackupReport(path, tuple(results))


def _tenant_groups(file: Path) -> Iterator[tuple[str, Iterator[dict[str, Any]]]]:
    """The file's lines, parsed, grouped by tenant (a backup writes a tenant's rows together)."""
    if not file.is_file():
        raise ValueError(f"restore: {file} is missing from the backup")
    with file.open(encoding="utf-8") as lines:
        parsed = (_parse(file, number, line) for number, line in enumerate(lines, start=1))
        yield from itertools.groupby(parsed, key=lambda entry: entry["tenant"])


def _parse(file: Path, number: int, line: str) -> dict[str, Any]:
    try:
        entry = json.loads(line)
    except ValueError as exc:
        raise ValueError(f"restore: {file.name} line {number} is not JSON: {exc}") from None
    if not isinstance(entry, dict) or set(entry) != {"tenant", "table", "row"}:
        raise ValueError(
            f"restore: {file.name} line {number} must be an object of tenant, table and row"
        )
    return entry


def _batches(
    component: Component, lines: Iterator[dict[str, Any]], batch_size: int
) -> Iterator[tuple[Table, list[Row]]]:
    tables = {table.name: table for table in component.tables}
    for name, entries in itertools.groupby(lines, key=lambda entry: entry["table"]):
        table = tables.get(name)
        if table is None:
            raise TransferError(
                f"restore: {component.name}.jsonl holds rows of table {name!r}, which is not "
                f"one of its tables ({', '.join(tables)})"
            )
        while batch := [decode_row(table, e["row"]) for e in itertools.islice(entries, batch_size)]:
            yield table, batch
