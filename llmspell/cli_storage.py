"""`llmspell storage ...`: argument parsing and printing over `llmspell.storage.admin`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from llmspell.cli_base import subcommand, with_storage_settings


def register(subparsers: Any) -> None:
    """Add the `storage` command group to the main parser's subcommands."""
    storage = subcommand(
        subparsers, "storage", help="schema migrations, schema report, roles, embedded PostgreSQL"
    )
    sub = storage.add_subparsers(dest="storage_command", metavar="ACTION", required=True)

    upgrade = subcommand(sub, "upgrade", help="migrate the configured database up (as the owner)")
    upgrade.add_argument("--revision", default="head", help="target revision (default: head)")
    upgrade.set_defaults(handler=cmd_upgrade)

    downgrade = subcommand(sub, "downgrade", help="migrate the configured database down")
    downgrade.add_argument("revision", help="target revision, or 'base' to remove every table")
    downgrade.set_defaults(handler=cmd_downgrade)

    schema = subcommand(
        sub, "schema", help="revision, tables, indexes and RLS policies of the configured database"
    )
    schema.add_argument("--component", help="only this component's tables (e.g. kv)")
    schema.add_argument(
        "--sql", action="store_true", help="print the DDL at head for the backend's dialect"
    )
    schema.set_defaults(handler=cmd_schema)

    roles = subcommand(
        sub, "init-roles", help="create the app role of storage.postgres.url and its grants"
    )
    roles.set_defaults(handler=cmd_init_roles)

    pg = subcommand(sub, "pg", help="manage the embedded PostgreSQL (storage.postgres.embedded)")
    pg_sub = pg.add_subparsers(dest="pg_command", metavar="ACTION", required=True)
    subcommand(pg_sub, "start", help="start it and keep it running").set_defaults(
        handler=cmd_pg_start
    )
    subcommand(pg_sub, "stop", help="stop it").set_defaults(handler=cmd_pg_stop)
    subcommand(pg_sub, "status", help="is it running? (exit 3 when not)").set_defaults(
        handler=cmd_pg_status
    )
    from llmspell import cli_storage_check, cli_storage_transfer

    cli_storage_check.register(sub)
    cli_storage_transfer.register(sub)  # migrate, backup, restore, retention


def _print_notes(notes: list[str]) -> None:
    for note in notes:
        print(f"note: {note}")


@with_storage_settings
def cmd_upgrade(args: argparse.Namespace, settings: Any) -> int:
    """`storage upgrade [--revision R]`."""
    from llmspell.storage import admin

    for result in admin.upgrade(settings, args.revision):
        if result.before == result.after:
            print(f"{result.database}: already at revision {result.after}")
        else:
            print(f"{result.database}: upgraded from {result.before or 'base'} to {result.after}")
        _print_notes(result.notes)
    return 0


@with_storage_settings
def cmd_downgrade(args: argparse.Namespace, settings: Any) -> int:
    """`storage downgrade R`."""
    from llmspell.storage import admin

    for result in admin.downgrade(settings, args.revision):
        if result.before == result.after:
            print(f"{result.database}: already at revision {result.after or 'base'}; unchanged")
        else:
            print(
                f"{result.database}: downgraded from {result.before or 'base'} "
                f"to {result.after or 'base'}"
            )
        _print_notes(result.notes)
    return 0


@with_storage_settings
def cmd_schema(args: argparse.Namespace, settings: Any) -> int:
    """`storage schema [--component C] [--sql]`."""
    from llmspell.storage import admin

    if args.sql:
        sys.stdout.write(admin.schema_sql(settings, args.component))
        return 0
    report = admin.schema_report(settings, args.component)
    print(f"backend:  {report['backend']}  ({report['database']})")
    print(f"revision: {report['revision'] or 'none (no llmspell schema)'}  (head {report['head']})")
    print("tables:")
    for table in report["tables"]:
        rls = ""
        if table["rls_enabled"] is not None:
            rls = "  rls: " + ", ".join(
                word
                for word, on in (("enabled", table["rls_enabled"]), ("forced", table["rls_forced"]))
                if on
            )
        print(f"  {table['name']}  [{table['component']}]{rls or ''}")
        for column in table["columns"]:
            null = "" if column["nullable"] else " NOT NULL"
            print(f"      {column['name']} {column['type']}{null}")
    for missing in report["missing_tables"]:
        print(f"  {missing}  (missing: run `llmspell storage upgrade`)")
    print("indexes:")
    for index in report["indexes"]:
        kind = "primary key" if index["primary_key"] else ("unique" if index["unique"] else "index")
        print(f"  {index['name']} on {index['table']} ({', '.join(index['columns'])})  {kind}")
    if report["backend"] == "postgres":
        print("policies:")
        for policy in report["policies"]:
            print(
                f"  {policy['name']} on {policy['table']} {policy['command']} "
                f"to {','.join(policy['roles'])}: using ({policy['using']}) "
                f"with check ({policy['with_check']})"
            )
        if report["partitions"]:
            print("partitions:")
            for part in report["partitions"]:
                print(f"  {part['name']} of {part['table']}: {part['bound']}")
    return 0


@with_storage_settings
def cmd_init_roles(args: argparse.Namespace, settings: Any) -> int:
    """`storage init-roles`."""
    from llmspell.storage import admin

    for line in admin.init_roles(settings):
        print(line)
    return 0


def _print_status(status: Any) -> None:
    state = f"running (pid {status.pid})" if status.running else "not running"
    print(f"embedded PostgreSQL: {state}")
    print(f"  data dir:     {status.data_dir}{'' if status.initialized else ' (not initialized)'}")
    if status.running:
        print(f"  socket dir:   {status.socket_dir}")
        print(f"  app url:      {status.app_url}")
        print(f"  owner url:    {status.owner_url}")
        print(f"  kept running: {'yes (until storage pg stop)' if status.keep_running else 'no'}")


@with_storage_settings
def cmd_pg_start(args: argparse.Namespace, settings: Any) -> int:
    """`storage pg start`."""
    from llmspell.storage import admin

    _print_status(admin.pg_start(settings))
    return 0


@with_storage_settings
def cmd_pg_stop(args: argparse.Namespace, settings: Any) -> int:
    """`storage pg stop`."""
    from llmspell.storage import admin

    stopped = admin.pg_stop(settings)
    print("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")
    return 0


@with_storage_settings
def cmd_pg_status(args: argparse.Namespace, settings: Any) -> int:
    """`storage pg status`: exit 0 when running, 3 when not (as `pg_ctl status`)."""
    from llmspell.storage import admin

    status = admin.pg_status(settings)
    _print_status(status)
    return 0 if status.running else 3
