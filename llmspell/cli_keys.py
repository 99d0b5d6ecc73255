"""`llmspell keys add|list|remove|rotate|rotate-master`: argument parsing and printing over
`llmspell.runtime.keys.KeyStore`, for the configured storage and tenant.

A secret is read from the environment variable `--from-env` names, from standard input when
it is piped, or typed at a hidden prompt: never from the command line, which other users of
the machine can see (`ps`).
"""

from __future__ import annotations

import argparse
import functools
import getpass
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from llmspell.cli_base import Handler, fail, guarded, subcommand

# Read from a pipe: enough for any key the store accepts, and a bound on what is read.
STDIN_LIMIT = 16 * 1024 + 2


def register(subparsers: Any) -> None:
    """Add the `keys` command group to the main parser's subcommands."""
    keys = subcommand(
        subparsers, "keys", help="encrypted API keys: add, list, remove, rotate, rotate-master"
    )
    sub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)

    add = subcommand(
        sub, "add", help="store the key of a service: llmspell keys add openai --from-env VAR"
    )
    add.add_argument("service", help="the provider's name (or its type), e.g. openai")
    _secret_options(add)
    add.set_defaults(handler=cmd_add)

    listing = subcommand(sub, "list", help="stored keys (never the secrets)")
    listing.add_argument("--service", help="only this service's keys")
    listing.add_argument(
        "--all", action="store_true", help="include rotated and deactivated keys (history)"
    )
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=cmd_list)

    remove = subcommand(sub, "remove", help="delete every key of a service, history included")
    remove.add_argument("service")
    remove.set_defaults(handler=cmd_remove)

    rotate = subcommand(
        sub, "rotate", help="replace a service's key; the old one is kept, inactive"
    )
    rotate.add_argument("service")
    _secret_options(rotate)
    rotate.set_defaults(handler=cmd_rotate)

    master = subcommand(
        sub,
        "rotate-master",
        help="re-encrypt every stored key with a new master key (one transaction)",
    )
    master.add_argument(
        "--new-key-env",
        metavar="VAR",
        help="the environment variable holding the new master key (base64 of 32 bytes); "
        "required when LLMSPELL_MASTER_KEY holds the current one, else a new key is generated "
        "into the key file",
    )
    master.set_defaults(handler=cmd_rotate_master)


def _secret_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from-env",
        metavar="VAR",
        help="read the key from this environment variable (default: standard input when piped, "
        "else a hidden prompt)",
    )
    parser.add_argument(
        "--expires-in-days", type=float, metavar="N", help="the key expires after N days"
    )


def _with_keys(run: Callable[[argparse.Namespace, Any], int]) -> Handler:
    """A `guarded` command run with the KeyStore of the configured storage (closed after)."""

    @functools.wraps(run)
    def handler(args: argparse.Namespace) -> int:
        from llmspell.runtime.config import load_config
        from llmspell.runtime.infrastructure import Infrastructure
        from llmspell.runtime.keys import KeyStore

        config = load_config(config_file=args.config, profile=args.profile).config
        infra = Infrastructure.from_config(config)
        try:
            return run(args, infra.get(KeyStore))
        finally:
            infra.close()

    return guarded(handler)


def read_secret(args: argparse.Namespace) -> str:
    """The key to store: from `--from-env VAR`, a pipe, or a hidden prompt (surrounding
    whitespace removed: a key never starts or ends with it, a pipe's newline often does)."""
    from llmspell.runtime.errors import InvalidArgument

    if args.from_env:
        if args.from_env not in os.environ:
            raise InvalidArgument(f"--from-env {args.from_env}: the variable is not set")
        secret, where = os.environ[args.from_env], f"the variable {args.from_env}"
    elif not sys.stdin.isatty():
        secret, where = sys.stdin.read(STDIN_LIMIT), "standard input"
    else:
        secret, where = getpass.getpass(f"API key for {args.service}: "), "the prompt"
    secret = secret.strip()
    if not secret:
        raise InvalidArgument(f"no key given: {where} is empty")
    return secret


def _expiry(args: argparse.Namespace) -> datetime | None:
    from llmspell.runtime.errors import InvalidArgument

    days = args.expires_in_days
    if days is None:
        return None
    if not days > 0 or days > 36500:
        raise InvalidArgument(f"--expires-in-days must be above 0 and at most 36500, got {days:g}")
    return datetime.now(UTC) + timedelta(days=days)


def _when(value: datetime | None, time: bool = True) -> str:
    if value is None:
        return "-"
    return f"{value:%Y-%m-%d %H:%M}" if time else f"{value:%Y-%m-%d}"


@_with_keys
def cmd_add(args: argparse.Namespace, keys: Any) -> int:
    """`keys add SERVICE [--from-env VAR] [--expires-in-days N]`."""
    expires_at = _expiry(args)
    info = keys.add(args.service, read_secret(args), expires_at=expires_at)
    until = "" if info.expires_at is None else f", expires {_when(info.expires_at)} UTC"
    print(
        f"added the key of {info.service!r} for tenant {keys.tenant_id!r} "
        f"(key {info.key_id}, master key version {info.key_version}{until})"
    )
    return 0


@_with_keys
def cmd_rotate(args: argparse.Namespace, keys: Any) -> int:
    """`keys rotate SERVICE [--from-env VAR] [--expires-in-days N]`."""
    expires_at = _expiry(args)
    info = keys.rotate(args.service, read_secret(args), expires_at=expires_at)
    print(
        f"rotated the key of {info.service!r}: key {info.key_id} replaces {info.rotated_from} "
        "(kept, inactive)"
    )
    return 0


@_with_keys
def cmd_remove(args: argparse.Namespace, keys: Any) -> int:
    """`keys remove SERVICE`."""
    removed = keys.remove(args.service)
    if not removed:
        return fail(args, f"no keys stored for service {args.service!r}")
    print(f"removed {removed} key{'s' if removed != 1 else ''} of {args.service!r}")
    return 0


@_with_keys
def cmd_list(args: argparse.Namespace, keys: Any) -> int:
    """`keys list [--service S] [--all] [--json]`."""
    infos = keys.list(args.service, include_inactive=args.all)
    if args.json:
        rows = [
            {
                "service": i.service,
                "key_id": i.key_id,
                "active": i.active,
                "expired": i.expired,
                "created_at": i.created_at.isoformat(),
                "expires_at": i.expires_at and i.expires_at.isoformat(),
                "last_used_at": i.last_used_at and i.last_used_at.isoformat(),
                "usage_count": i.usage_count,
                "key_version": i.key_version,
                "rotated_from": i.rotated_from,
            }
            for i in infos
        ]
        print(json.dumps({"tenant": keys.tenant_id, "keys": rows}, indent=2))
        return 0
    if not infos:
        which = f" for service {args.service!r}" if args.service else ""
        hint = "" if args.all else " (active keys; --all includes the history)"
        print(f"no API keys stored{which} in tenant {keys.tenant_id!r}{hint}")
        return 0
    from rich.console import Console
    from rich.table import Table

    # Key ids shortened as git shortens hashes (--json has them whole).
    table = Table(title=f"API keys of tenant {keys.tenant_id!r} (times in UTC)")
    for column in ("service", "key", "status", "created", "expires", "last used", "uses"):
        table.add_column(column, overflow="fold")
    table.add_column("master key", justify="right")
    table.add_column("replaces")
    for i in infos:
        status = "inactive" if not i.active else ("expired" if i.expired else "active")
        table.add_row(
            i.service,
            i.key_id[:8],
            status,
            _when(i.created_at, time=False),
            _when(i.expires_at, time=False),
            _when(i.last_used_at),
            str(i.usage_count),
            f"v{i.key_version}",
            (i.rotated_from or "-")[:8],
        )
    # A pipe gets rich's 80 columns, too narrow for one row per key.
    Console(width=None if sys.stdout.isatty() else 120).print(table)
    return 0


@_with_keys
def cmd_rotate_master(args: argparse.Namespace, keys: Any) -> int:
    """`keys rotate-master [--new-key-env VAR]`."""
    from llmspell.runtime.errors import InvalidArgument
    from llmspell.runtime.keys import MASTER_KEY_ENV, decode_master_key

    new_key = None
    if args.new_key_env:
        if not os.environ.get(args.new_key_env):
            raise InvalidArgument(f"--new-key-env {args.new_key_env}: the variable is not set")
        new_key = decode_master_key(
            os.environ[args.new_key_env], f"--new-key-env {args.new_key_env}"
        )
    done = keys.rotate_master(new_key)
    print(
        f"re-encrypted {done.keys} key{'s' if done.keys != 1 else ''} of tenant "
        f"{keys.tenant_id!r} with master key version {done.key_version}"
    )
    if done.source == MASTER_KEY_ENV:
        print(
            f"now set {MASTER_KEY_ENV} to the value of {args.new_key_env} wherever llmspell "
            "runs for this tenant: the stored keys no longer decrypt with the old one"
        )
    else:
        print(
            f"the new master key is in {done.source}, which no longer holds the versions no "
            "stored key uses"
        )
    return 0
