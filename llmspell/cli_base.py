"""What every `llmspell` command module builds on: the global options, `subcommand`, the
config a run uses, and one way to report a failure (`llmspell <command>: <what was wrong>`).

`cli.py` and the command-group modules (`cli_storage`, `cli_rag`, `cli_keys`...) import this
module, never each other's private names."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmspell.runtime.config import LoadedConfig

# What `llmspell run|exec` uses where no layer set a value (the kernel has no time limit).
CLI_DEFAULTS: dict[str, tuple[Any, str]] = {
    "engines.lua.timeout_s": (300, "llmspell run/exec default (the kernel has none)"),
    "engines.python.timeout_s": (300, "llmspell run/exec default (the kernel has none)"),
}


def global_options(parser: argparse.ArgumentParser, *, after_command: bool) -> None:
    """`-c/--config`, `--profile`, `-v/--verbose`: accepted before or after the command; after
    it they must not reset what came before."""
    from llmspell.runtime.config import known_profiles

    keep: dict[str, Any] = {"default": argparse.SUPPRESS} if after_command else {}
    parser.add_argument("-c", "--config", help="config file (default: discovery, see docs)", **keep)
    parser.add_argument(
        "--profile", help=f"built-in profile: {', '.join(known_profiles())}", **keep
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging", **keep)


_AFTER_COMMAND = argparse.ArgumentParser(add_help=False)
global_options(_AFTER_COMMAND, after_command=True)


def subcommand(sub: Any, name: str, **kwargs: Any) -> argparse.ArgumentParser:
    """A command parser that also takes the global options (`llmspell exec --profile m ...`)
    and names itself in failures (`fail`)."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name, parents=[_AFTER_COMMAND], allow_abbrev=False, **kwargs
    )
    # the innermost command's defaults win: `llmspell storage pg start`
    parser.set_defaults(command_name=parser.prog)
    return parser


def fail(args: argparse.Namespace, message: str) -> int:
    """Report a failure of the command `args` ran as one `llmspell <command>: message` line on
    stderr; the exit status 1."""
    print(f"{getattr(args, 'command_name', 'llmspell')}: {message}", file=sys.stderr)
    return 1


def one_line(exc: BaseException) -> str:
    """An error's message with its line breaks and indentation folded into single spaces."""
    return " ".join(str(exc).split())


Handler = Callable[[argparse.Namespace], int]


def guarded(run: Handler) -> Handler:
    """`run`, with every expected failure (an invalid config, a domain error, a refused value,
    a storage or database error) reported by `fail` on one line, with exit status 1."""

    @functools.wraps(run)
    def handler(args: argparse.Namespace) -> int:
        from llmspell.runtime.errors import DomainError
        from llmspell.storage import StorageError

        try:
            return run(args)
        except (DomainError, ValueError, StorageError) as exc:  # ConfigError is a ValueError
            return fail(args, one_line(exc))
        except Exception as exc:
            from sqlalchemy.exc import DBAPIError  # loaded already when a database failed

            if isinstance(exc, DBAPIError):
                return fail(args, f"database error: {str(exc.orig).strip().splitlines()[0]}")
            raise

    return handler


def with_storage_settings(run: Callable[[argparse.Namespace, Any], int]) -> Handler:
    """A `guarded` command run with the `StorageSettings` of the configured storage (the
    `llmspell storage ...` commands)."""

    @functools.wraps(run)
    def handler(args: argparse.Namespace) -> int:
        from llmspell.runtime.config import load_config, storage_settings

        config = load_config(config_file=args.config, profile=args.profile).config
        return run(args, storage_settings(config))

    return guarded(handler)


def run_config(args: argparse.Namespace) -> LoadedConfig:
    """The LoadedConfig of a run, with the CLI's defaults where no layer set a value; from the
    config cache when nothing it depends on changed (a start without pydantic)."""
    from llmspell.runtime.config.cache import load_config_cached

    return load_config_cached(
        config_file=args.config, profile=args.profile, host_defaults=CLI_DEFAULTS
    )
