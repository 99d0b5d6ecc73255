"""`llmspell storage migrate|backup|restore|retention`: argument parsing, a progress bar per
component and a summary over `llmspell.storage.ops` (migrate, backup, retention)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from llmspell.cli_base import subcommand, with_storage_settings

ENDPOINT_HELP = (
    "sqlite[:PATH], postgres[:URL] or memory; without PATH/URL the configured database "
    "(storage.path, storage.postgres.url and admin_url)"
)


def register(sub: Any) -> None:
    """Add `migrate`, `backup`, `restore` and `retention` to the `storage` command group."""
    migrate = subcommand(
        sub, "migrate", help="copy every component, tenant by tenant, to another backend"
    )
    migrate.add_argument("--from", dest="source", required=True, help=ENDPOINT_HELP)
    migrate.add_argument(
        "--to", dest="target", required=True, help="sqlite[:PATH] or postgres[:URL]"
    )
    _selection(migrate)
    migrate.add_argument(
        "--dry-run", action="store_true", help="count what would be copied; write nothing"
    )
    migrate.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run: keep units the target holds exactly as the source",
    )
    migrate.add_argument(
        "--no-validate",
        dest="validate",
        action="store_false",
        help="skip reading each unit back from the target before its commit",
    )
    migrate.set_defaults(handler=cmd_migrate)

    backup = subcommand(sub, "backup", help="write every component as JSON Lines to DIRECTORY")
    backup.add_argument("directory", help="a new or empty directory")
    _selection(backup)
    backup.set_defaults(handler=cmd_backup)

    restore = subcommand(sub, "restore", help="write a backup into the configured database")
    restore.add_argument("directory", help="a directory `storage backup` wrote")
    _selection(restore)
    restore.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted restore: keep units the target holds exactly as the backup",
    )
    restore.add_argument(
        "--no-validate",
        dest="validate",
        action="store_false",
        help="skip reading each unit back before its commit",
    )
    restore.set_defaults(handler=cmd_restore)

    retention = subcommand(
        sub, "retention", help="delete expired events, and events older than a cutoff"
    )
    cutoff = retention.add_mutually_exclusive_group()
    cutoff.add_argument(
        "--older-than", type=_days, metavar="DAYS", help="also delete events older than DAYS days"
    )
    cutoff.add_argument(
        "--before",
        type=_moment,
        metavar="TIMESTAMP",
        help="also delete events before this ISO 8601 time (UTC when it names no zone)",
    )
    retention.add_argument(
        "--tenant", action="append", help="only this tenant (repeatable; default: all)"
    )
    retention.set_defaults(handler=cmd_retention)


def _selection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--components", type=_names, help="comma-separated components (default: all)"
    )
    tenants = parser.add_mutually_exclusive_group()
    tenants.add_argument(
        "--tenant", action="append", help="only this tenant (repeatable; default: every tenant)"
    )
    tenants.add_argument(
        "--all-tenants",
        action="store_true",
        help="every tenant the source holds (the default, said explicitly)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=10_000, help="rows per batch (default 10000)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _names(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected component names like kv,events, got {value!r}")
    return names


def _days(value: str) -> float:
    try:
        days = float(value)
    except ValueError:
        days = -1.0
    if not days >= 0:
        raise argparse.ArgumentTypeError(f"expected a number of days >= 0, got {value!r}")
    return days


def _moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 time like 2026-01-31T00:00:00Z, got {value!r}"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def endpoint(settings: Any, spec: str, *, allowed: tuple[str, ...]) -> Any:
    """The settings of `--from` / `--to`: `backend[:location]` over the configured ones."""
    backend, _, location = spec.partition(":")
    if backend not in allowed:
        raise ValueError(
            f"{spec!r} is not a storage; use {' or '.join(allowed)} (e.g. sqlite:PATH)"
        )
    changes: dict[str, Any] = {"backend": backend, "component_backends": {}}
    if location and backend == "memory":
        raise ValueError(f"{spec!r}: the memory backend has no location")
    if location and backend == "sqlite":
        changes["sqlite_path"] = location
    if location and backend == "postgres":
        changes.update(pg_url=location, pg_admin_url="", pg_embedded=False)
    return settings.with_changes(**changes)


@contextmanager
def _progress(quiet: bool) -> Iterator[tuple[Any, Any]]:
    """`(on_plan, advance)` callbacks drawing one rich bar per component on stderr."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    console = Console(stderr=True)
    bars = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet or not console.is_terminal,
    )
    tasks: dict[str, Any] = {}

    def on_plan(rows: dict[str, int]) -> None:
        for name, total in rows.items():
            if total:  # a component without rows to copy gets no bar
                tasks[name] = bars.add_task(name, total=total)

    def advance(component: str, rows: int) -> None:
        if component not in tasks:
            tasks[component] = bars.add_task(component, total=None)
        bars.advance(tasks[component], rows)

    with bars:
        yield on_plan, advance


def _summary(units: Any, verb: str) -> None:
    by_component: dict[str, list[Any]] = {}
    for unit in units:
        by_component.setdefault(unit.component, []).append(unit)
    if not by_component:
        print("nothing to copy: the source holds no rows of the selected components and tenants")
    for name, group in by_component.items():
        rows = sum(u.rows for u in group)
        target = sum(u.target_rows for u in group)
        kept = sum(u.status in ("already there", "would skip") for u in group)
        checked = all(u.target_checksum and u.target_checksum == u.checksum for u in group)
        check = "checksums equal" if checked else "not read back"
        extra = f", {kept} already there" if kept else ""
        print(
            f"{name}: {rows} rows of {len(group)} tenant(s) {verb}; target holds {target} "
            f"({check}{extra})"
        )


@with_storage_settings
def cmd_migrate(args: argparse.Namespace, settings: Any) -> int:
    """`storage migrate --from A --to B [...]`."""
    from llmspell.storage.ops.migrate import migrate

    source = endpoint(settings, args.source, allowed=("sqlite", "postgres", "memory"))
    target = endpoint(settings, args.target, allowed=("sqlite", "postgres"))
    with _progress(args.quiet) as (on_plan, advance):
        report = migrate(
            source,
            target,
            components=args.components,
            tenants=args.tenant,
            batch_size=args.batch_size,
            dry_run=args.dry_run,
            resume=args.resume,
            validate=args.validate,
            progress=advance,
            on_plan=on_plan,
        )
    if report.dry_run:
        for name, (rows, _) in report.totals().items():
            print(f"{name}: would copy {rows} rows")
        print("dry run: nothing was written")
        return 0
    _summary(report.units, "copied")
    return 0


@with_storage_settings
def cmd_backup(args: argparse.Namespace, settings: Any) -> int:
    """`storage backup DIRECTORY [...]`."""
    from llmspell.storage.ops.backup import backup

    with _progress(args.quiet) as (_, advance):
        report = backup(
            settings,
            args.directory,
            components=args.components,
            tenants=args.tenant,
            batch_size=args.batch_size,
            progress=advance,
        )
    _summary(report.units, "backed up")
    print(f"backup: {report.directory} ({report.rows} rows)")
    return 0


@with_storage_settings
def cmd_restore(args: argparse.Namespace, settings: Any) -> int:
    """`storage restore DIRECTORY [...]`."""
    from llmspell.storage.ops.backup import restore

    with _progress(args.quiet) as (_, advance):
        report = restore(
            settings,
            args.directory,
            components=args.components,
            tenants=args.tenant,
            batch_size=args.batch_size,
            resume=args.resume,
            validate=args.validate,
            progress=advance,
        )
    _summary(report.units, "restored")
    return 0


@with_storage_settings
def cmd_retention(args: argparse.Namespace, settings: Any) -> int:
    """`storage retention [--older-than DAYS | --before TIMESTAMP] [--tenant T]`."""
    from llmspell.storage.ops.retention import prune_events

    before = args.before
    if args.older_than is not None:
        before = datetime.now(UTC) - timedelta(days=args.older_than)
    pruned = prune_events(settings, before=before, tenants=args.tenant)
    for tenant in pruned:
        dropped = (
            f", dropped partitions {', '.join(tenant.partitions_dropped)}"
            if tenant.partitions_dropped
            else ""
        )
        print(f"{tenant.tenant}: deleted {tenant.deleted} events{dropped}")
    total = sum(t.deleted for t in pruned)
    print(f"retention: deleted {total} events of {len(pruned)} tenant(s)")
    return 0
