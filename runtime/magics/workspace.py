"""The magics about what surrounds the code: `%run FILE`, `%load FILE`, `%history [N]`,
`%env [NAME[=VALUE]]` and `%who_ls`. `runtime/magics/commands.py` registers them next to its own.

Files: a trusted engine reads any; in the sandbox only files under the working directory and
`tools.allowed_paths` (the roots `require` searches). The environment: the sandbox shows only
`engines.lua.env_allowlist`, as `os.getenv` does; values of secret-looking names, provider key
variables and `LLMSPELL_*` settings are never shown, passwords inside values are masked.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmspell.runtime.config import ENV_PREFIX, SECRET_MARKERS, secret_env_names
from llmspell.runtime.results import OutputSink, ScriptError
from llmspell.storage.redaction import MASK, redact_secrets

if TYPE_CHECKING:
    from llmspell.runtime.config import LLMSpellConfig
    from llmspell.runtime.script_runtime import Engine

Outcome = tuple[bool, Any, dict[str, Any]]
NOTHING: Outcome = (False, None, {})
MAX_FILE_BYTES = 10 * 1024 * 1024  # %run/%load: a script, not a data file


class WorkspaceMagics:
    """`%run`, `%load`, `%history`, `%env`, `%who_ls` for one engine and config."""

    def __init__(self, engine: Engine, config: LLMSpellConfig, inputs: list[str]) -> None:
        """`inputs`: every cell the runtime ran, in order, as it keeps them (%history)."""
        self._engine = engine
        self._config = config
        self.inputs = inputs

    # --- files ------------------------------------------------------------------------------

    def _read(self, magic: str, args: str) -> tuple[Path, str]:
        if not args:
            raise ScriptError("UsageError", f"%{magic}: give a file (%{magic} script.lua)")
        path = Path(args).expanduser()
        resolved = path.resolve()
        if not self._engine.trusted:
            roots = [Path.cwd().resolve()]
            roots += [Path(p).expanduser().resolve() for p in self._config.tools.allowed_paths]
            if not any(resolved.is_relative_to(root) for root in roots):
                raise ScriptError(
                    "PermissionError",
                    f"%{magic}: {args!r} is outside the working directory and "
                    "tools.allowed_paths (safe mode reads files only there)",
                )
        try:
            if resolved.stat().st_size > MAX_FILE_BYTES:
                raise ScriptError(
                    "ValueError", f"%{magic}: {args!r} is larger than {MAX_FILE_BYTES} bytes"
                )
            return path, resolved.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ScriptError("FileNotFoundError", f"%{magic}: no file {args!r}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ScriptError("OSError", f"%{magic}: cannot read {args!r}: {exc}") from None

    def run_file(self, args: str, sink: OutputSink) -> Outcome:
        """`%run FILE`: the file's code runs here, in this runtime's globals."""
        path, code = self._read("run", args)
        return self._engine.execute(code, str(path))

    def load(self, args: str, sink: OutputSink) -> Outcome:
        """`%load FILE`: the file becomes the next cell's input (a front end that cannot take
        it gets the text as output)."""
        _, code = self._read("load", args)
        comment = "#" if self._engine.name == "python" else "--"
        text = f"{comment} %load {args}\n{code}"
        set_next_input = getattr(sink, "set_next_input", None)
        if set_next_input is not None:
            set_next_input(text)
        else:
            sink.stdout(code if code.endswith("\n") else code + "\n")
        return NOTHING

    # --- %history, %who_ls ------------------------------------------------------------------

    def history(self, args: str, sink: OutputSink) -> Outcome:
        """`%history [N]`: this session's cells (the last N), numbered."""
        earlier = self.inputs[:-1]  # not the %history cell itself
        first = 0
        if args:
            if not args.isdigit() or int(args) < 1:
                raise ScriptError(
                    "UsageError", f"%history: give a positive number of cells, got {args!r}"
                )
            first = max(0, len(earlier) - int(args))
        lines = []
        for number, source in enumerate(earlier[first:], start=first + 1):
            body = source.rstrip("\n").replace("\n", "\n" + " " * (len(str(number)) + 2))
            lines.append(f"{number}: {body}")
        sink.stdout("\n".join(lines) + "\n" if lines else "No earlier cells.\n")
        return NOTHING

    def who_ls(self, args: str, sink: OutputSink) -> Outcome:
        """`%who_ls [type]`: the user globals' names as a sorted list value."""
        wanted = set(args.split())
        names = sorted(
            n for n, kind in self._engine.user_globals().items() if not wanted or kind in wanted
        )
        # JSON.parse("...") is the same expression in Lua and Python
        return self._engine.execute(f"JSON.parse({json.dumps(json.dumps(names))})", "%who_ls")

    # --- %env ---------------------------------------------------------------------------------

    def env(self, args: str, sink: OutputSink) -> Outcome:
        """`%env` lists, `%env NAME` shows one, `%env NAME=VALUE` sets one (trusted only)."""
        if "=" in args:
            name, _, value = args.partition("=")
            return self._set_env(name.strip(), value.strip(), sink)
        if args:
            name = args.strip()
            self._check_readable(name)
            if name not in os.environ:
                raise ScriptError("KeyError", f"%env: no environment variable {name!r}")
            sink.stdout(self._shown(name, os.environ[name]) + "\n")
            return NOTHING
        names = sorted(n for n in os.environ if self._engine.trusted or n in self._allowlist())
        sink.stdout("".join(f"{n}={self._shown(n, os.environ[n])}\n" for n in names))
        return NOTHING

    def _allowlist(self) -> set[str]:
        return set(self._config.engines.lua.env_allowlist)

    def _check_readable(self, name: str) -> None:
        if not self._engine.trusted and name not in self._allowlist():
            allowed = ", ".join(sorted(self._allowlist())) or "none"
            raise ScriptError(
                "PermissionError",
                f"%env: {name!r} is not in engines.lua.env_allowlist (safe mode); "
                f"allowed: {allowed}",
            )

    def _set_env(self, name: str, value: str, sink: OutputSink) -> Outcome:
        if not self._engine.trusted:
            raise ScriptError(
                "PermissionError",
                '%env NAME=VALUE: setting variables needs engines.lua.security = "trusted"',
            )
        if not name or name.startswith(ENV_PREFIX):
            raise ScriptError(
                "UsageError",
                f"%env: cannot set {name!r} (llmspell settings are read once, at start)",
            )
        os.environ[name] = value
        sink.stdout(f"env: {name}={self._shown(name, value)}\n")
        return NOTHING

    def _shown(self, name: str, value: str) -> str:
        lowered = name.lower()
        if (
            name.startswith(ENV_PREFIX)
            or name in secret_env_names(self._config)
            or any(marker in lowered for marker in (*SECRET_MARKERS, "key", "credential"))
        ):
            return MASK if value else ""
        return redact_secrets(value)
