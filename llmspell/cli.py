"""The `llmspell` command line: parse arguments, then call the runtime, kernel or storage API."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import import_module
from pathlib import Path

from llmspell import __version__
from llmspell.cli_base import CLI_DEFAULTS, fail, global_options, run_config, subcommand

# Command groups in modules of their own (each module's `register` adds its group); a run of
# `run`/`exec`/`kernel`/`config` does not import them.
COMMAND_MODULES = {"storage": "cli_storage", "rag": "cli_rag", "keys": "cli_keys"}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line `argv`; by default this process's own arguments, and then main is
    the program: the process ends when it returns."""
    if argv is None:
        return _run_command_line(sys.argv[1:], as_program=True)
    return _run_command_line(argv, as_program=False)


def _run_command_line(argv: Sequence[str], as_program: bool) -> int:
    tokens = list(argv)
    parser = build_parser(groups=_groups_needed(tokens))
    # `--` ends llmspell's options: what follows goes to the script as it is (`run` only).
    verbatim: list[str] = []
    if "--" in tokens:
        cut = tokens.index("--")
        tokens, verbatim = tokens[:cut], tokens[cut + 1 :]
    args = parser.parse_args(tokens)
    if verbatim and args.command != "run":
        parser.error("only `llmspell run FILE` takes arguments after `--`")
    args.verbatim_args = verbatim
    args.as_program = as_program
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # A script's Debug.* output reaches stderr through the runtime already (filtered by
    # Debug.setLevel); the console handler must not print it a second time.
    logging.getLogger("llmspell.script").propagate = False
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`llmspell config show | head`): stop quietly, as cat does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _groups_needed(tokens: Sequence[str]) -> Sequence[str]:
    """The command groups to register for `tokens`: none when the command is a built-in one,
    all otherwise (help, a group's command, a mistake argparse should explain)."""
    probe = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    global_options(probe, after_command=False)
    probe.add_argument("command", nargs="?")
    probe.add_argument("rest", nargs=argparse.REMAINDER)
    try:
        known, _ = probe.parse_known_args(tokens)
    except SystemExit:  # malformed global options: the full parser reports them
        return list(COMMAND_MODULES)
    if known.command in BUILT_IN_COMMANDS:
        return []
    return list(COMMAND_MODULES)


BUILT_IN_COMMANDS = ("run", "exec", "kernel", "config")


def build_parser(groups: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The `llmspell` parser with the built-in commands and the command groups `groups`
    (default: all of COMMAND_MODULES)."""
    parser = argparse.ArgumentParser(
        prog="llmspell",
        description="Script LLM-centred work in Lua (or Python).",
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"llmspell {__version__}")
    global_options(parser, after_command=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = subcommand(
        sub,
        "run",
        help="run a script file: llmspell run FILE [args...] [--key value] [-- verbatim...]",
    )
    run.add_argument("file", help="script file (.lua or .py)")
    run.add_argument(
        "script_args", nargs=argparse.REMAINDER, help="arguments for the script (ARGS)"
    )
    run.add_argument("--engine", choices=["lua", "python"], help="default: from the file extension")
    run.set_defaults(handler=cmd_run)

    exe = subcommand(sub, "exec", help="run a code string: llmspell exec 'print(1)'")
    exe.add_argument("code")
    exe.add_argument("--engine", choices=["lua", "python"], help="default: config default_engine")
    exe.set_defaults(handler=cmd_exec)

    kernel = subcommand(sub, "kernel", help="install, list or uninstall the Jupyter kernelspecs")
    ksub = kernel.add_subparsers(dest="kernel_command", metavar="ACTION", required=True)
    kinstall = subcommand(
        ksub, "install", help="install the llmspell and llmspell-python kernelspecs"
    )
    where = kinstall.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="into the user's Jupyter data dir")
    where.add_argument("--sys-prefix", action="store_true", help="into sys.prefix (the venv)")
    where.add_argument("--prefix", help="into PREFIX/share/jupyter/kernels")
    kinstall.add_argument("--name", help="install only this spec (llmspell or llmspell-python)")
    kinstall.set_defaults(handler=cmd_kernel_install)
    klist = subcommand(ksub, "list", help="list installed llmspell kernelspecs")
    klist.set_defaults(handler=cmd_kernel_list)
    kun = subcommand(ksub, "uninstall", help="remove installed llmspell kernelspecs")
    gone = kun.add_mutually_exclusive_group()
    gone.add_argument("--user", action="store_true", help="from the user's Jupyter data dir")
    gone.add_argument("--sys-prefix", action="store_true", help="from sys.prefix (the venv)")
    gone.add_argument("--prefix", help="from PREFIX/share/jupyter/kernels")
    kun.add_argument("--name", help="remove only this spec (llmspell or llmspell-python)")
    kun.set_defaults(handler=cmd_kernel_uninstall)

    config = subcommand(sub, "config", help="show or validate configuration")
    csub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    show = subcommand(
        csub, "show", help="effective config, secrets redacted, with the source of each value"
    )
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(handler=cmd_config_show)
    validate = subcommand(csub, "validate", help="validate one TOML config file")
    validate.add_argument("file")
    validate.set_defaults(handler=cmd_config_validate)

    for group in COMMAND_MODULES if groups is None else groups:
        import_module(f"llmspell.{COMMAND_MODULES[group]}").register(sub)
    return parser


# --- run / exec -----------------------------------------------------------------------------


class ScriptArgsError(ValueError):
    """A script argument llmspell cannot turn into `ARGS`."""


def split_script_args(tokens: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """`a b --k v --k2=v2 --flag` → (["a", "b"], {"k": "v", "k2": "v2", "flag": "true"})."""
    positional: list[str] = []
    named: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.startswith("--") and len(token) > 2:
            key, eq, value = token[2:].partition("=")
            if not key:
                raise ScriptArgsError(
                    f"malformed script option {token!r}: use --name value, --name=value or "
                    "--flag (put `--` before arguments the script should get as they are)"
                )
            if eq:
                named[key] = value
            elif i + 1 < len(tokens) and not tokens[i + 1].startswith("--"):
                named[key] = tokens[i + 1]
                i += 1
            else:
                named[key] = "true"
        else:
            positional.append(token)
        i += 1
    return positional, named


def _run_code(
    args: argparse.Namespace,
    code: str,
    name: str,
    engine: str | None,
    script_args: list[str] | None,
    script_kwargs: dict[str, str] | None,
    print_value: bool,
) -> int:
    with _collector_paused():
        from llmspell.runtime.config import ConfigError
        from llmspell.runtime.results import ConsoleSink, ScriptError, ScriptExit
        from llmspell.runtime.script_runtime import ScriptRuntime

        try:
            loaded = run_config(args)
        except ConfigError as exc:
            return fail(args, str(exc))
        try:
            runtime = ScriptRuntime(
                loaded.config, engine=engine, loaded_config=loaded, host_defaults=CLI_DEFAULTS
            )
            # A broken storage setup fails before the script starts rather than at its first
            # State call (the kernel opens storage lazily instead); SQLite opens on first use.
            runtime.infrastructure.check()
        except Exception as exc:
            logging.getLogger("llmspell").debug("start-up failed", exc_info=True)
            return fail(args, f"cannot start the runtime: {exc}")
    if args.as_program:
        # What start-up made (modules, classes, the runtime) lives until the process ends:
        # frozen, the collector never scans it again, during the script or in the
        # interpreter's last collection at exit (~10 ms of `llmspell exec`), which then
        # frees only what the script made.
        gc.freeze()
    runtime.set_output(ConsoleSink())
    try:
        result = runtime.execute(code, name=name, args=script_args, kwargs=script_kwargs)
        if print_value and result.has_value:
            print(result.bundle.get("text/plain", ""))
        return 0
    except ScriptExit as exc:
        sys.stdout.flush()
        if exc.message is not None:
            print(exc.message, file=sys.stderr)
        return exc.status
    except ScriptError as exc:
        sys.stdout.flush()
        print("\n".join(exc.traceback), file=sys.stderr)
        # Ctrl-C ends a run with 130 (128 + SIGINT), as shells and other CLIs do.
        return 130 if exc.ename == "KeyboardInterrupt" else 1
    finally:
        runtime.close()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Start-up makes thousands of objects that live as long as the runtime (modules, classes,
    the globals' proxies): the cyclic collector would scan them over and over while they are
    made, finding nothing to free (a few ms of every start)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def cmd_run(args: argparse.Namespace) -> int:
    from llmspell.runtime.errors import InvalidArgument
    from llmspell.runtime.tools.paths import check_path_length
    from llmspell.storage.values import shown

    path = Path(args.file)
    try:
        check_path_length("the script's path", args.file)
        code = path.read_text(encoding="utf-8")
    except InvalidArgument as exc:
        return fail(args, str(exc))
    except OSError as exc:
        return fail(args, f"cannot read {shown(args.file)}: {exc.strerror}")
    except UnicodeDecodeError:
        return fail(args, f"{shown(args.file)} is not UTF-8 text")
    engine = args.engine or ("python" if path.suffix == ".py" else "lua")
    try:
        positional, named = split_script_args(args.script_args)
    except ScriptArgsError as exc:
        return fail(args, str(exc))
    positional += args.verbatim_args
    return _run_code(args, code, args.file, engine, positional, named, print_value=False)


def cmd_exec(args: argparse.Namespace) -> int:
    try:
        args.code.encode("utf-8")
    except UnicodeEncodeError:
        # bytes that are not UTF-8 arrive as surrogate escapes; scripts are text, as in `run`
        return fail(args, "the code is not UTF-8 text")
    return _run_code(args, args.code, "exec", args.engine, [], {}, print_value=True)


# --- kernel -----------------------------------------------------------------------------------


def cmd_kernel_install(args: argparse.Namespace) -> int:
    from llmspell.kernel.install import install

    try:
        paths = install(
            user=args.user, sys_prefix=args.sys_prefix, prefix=args.prefix, name=args.name
        )
    except (ValueError, OSError) as exc:
        return fail(args, str(exc))
    for path in paths:
        print(f"installed kernelspec in {path}")
    return 0


def cmd_kernel_list(args: argparse.Namespace) -> int:
    from llmspell.kernel.install import list_installed

    installed = list_installed()
    if not installed:
        print("no llmspell kernelspecs installed (run: llmspell kernel install --sys-prefix)")
    for name, path in sorted(installed.items()):
        print(f"{name:<18} {path}")
    return 0


def cmd_kernel_uninstall(args: argparse.Namespace) -> int:
    from llmspell.kernel.install import chosen_specs, installed_copies, location_option, uninstall

    try:
        removed = uninstall(
            name=args.name, user=args.user, sys_prefix=args.sys_prefix, prefix=args.prefix
        )
    except (ValueError, OSError) as exc:
        return fail(args, str(exc))
    if not removed:
        where = "there" if (args.user or args.sys_prefix or args.prefix) else "on the Jupyter path"
        print(f"no llmspell kernelspecs were installed {where}")
    for path in removed:
        print(f"removed {path}")
    if not (args.user or args.sys_prefix or args.prefix):
        # Without a location only the first copy on the Jupyter path goes (in a venv: the
        # venv's, before a --user one); name every copy left, the one Jupyter now starts first.
        for spec, path in installed_copies(chosen_specs(args.name)):
            print(
                f"still installed: {spec} in {path} (remove with: llmspell kernel "
                f"uninstall {location_option(path)} --name {spec})"
            )
    return 0


# --- config -----------------------------------------------------------------------------------


def cmd_config_show(args: argparse.Namespace) -> int:
    from llmspell.runtime.config import (
        ConfigError,
        describe_sources,
        format_sources,
        load_config,
    )

    try:
        loaded = load_config(config_file=args.config, profile=args.profile)
    except ConfigError as exc:
        return fail(args, str(exc))
    rows = describe_sources(loaded, CLI_DEFAULTS)
    if args.json:
        print(json.dumps({k: {"value": v, "source": s} for k, v, s in rows}, indent=2, default=str))
        return 0
    files = ", ".join(str(p) for p in loaded.files) or "none"
    print(f"# config files: {files}; profile: {loaded.profile or 'none'}")
    print(format_sources(rows), end="")
    return 0


def cmd_config_validate(args: argparse.Namespace) -> int:
    from llmspell.runtime.config import ConfigError, validate_file

    try:
        validate_file(args.file)
    except ConfigError as exc:
        return fail(args, str(exc))
    print(f"{args.file}: valid")
    return 0
