"""The host side of the safe sandbox: which files `require` may load (text modules under the
script's directory and `tools.allowed_paths`) and which environment variables `os.getenv` may
read (`engines.lua.env_allowlist`, never llmspell's own settings or a provider's API key)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from llmspell.runtime.config import ENV_PREFIX, secret_env_names
from llmspell.runtime.errors import InvalidArgument
from llmspell.runtime.tools.paths import check_path_length
from llmspell.storage.values import shown

if TYPE_CHECKING:
    from llmspell.runtime.config import LLMSpellConfig

# Lua module names: identifiers joined by dots (`lib.util`); nothing that could name a path.
MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)*")


class SandboxRefusal(Exception):
    """A script asked the sandbox for something it does not give; the message says what is
    allowed."""


class ModuleFinder:
    """Finds `require`d modules as `?.lua` and `?/init.lua` under the allowed directories: the
    script's own directory first, then `tools.allowed_paths`."""

    def __init__(self, config: LLMSpellConfig, script_dir: Callable[[], Path]) -> None:
        self._config = config
        self._script_dir = script_dir

    def roots(self) -> list[Path]:
        roots = [self._script_dir()]
        roots += [Path(p).expanduser() for p in self._config.tools.allowed_paths]
        out: list[Path] = []
        for root in roots:
            resolved = root.resolve()
            if resolved not in out:
                out.append(resolved)
        return out

    def search_path(self) -> str:
        """What `package.path` shows: the templates require tries, in order."""
        return ";".join(f"{root}/?.lua;{root}/?/init.lua" for root in self.roots())

    def find(self, name: str) -> tuple[Path, bytes]:
        """The module's file and its bytes; SandboxRefusal naming the files tried."""
        if not MODULE_NAME.fullmatch(name):
            raise SandboxRefusal(
                f"require: module name {shown(name)} is not allowed in safe mode: use names "
                "like 'lib' or 'lib.util' (letters, digits, '_', '-', dots between parts)"
            )
        relative = Path(*name.split("."))
        tried = []
        for root in self.roots():
            for candidate in (root / relative.with_suffix(".lua"), root / relative / "init.lua"):
                try:
                    check_path_length(f"require: the file of module {shown(name)}", candidate)
                except InvalidArgument as exc:
                    raise SandboxRefusal(str(exc)) from None
                resolved = candidate.resolve()
                if not resolved.is_file():
                    tried.append(f"no file '{candidate}'")
                elif not resolved.is_relative_to(root):
                    tried.append(f"'{candidate}' leads outside {root} (not followed)")
                else:
                    try:
                        return candidate, resolved.read_bytes()
                    except OSError as exc:
                        raise SandboxRefusal(
                            f"require: cannot read {str(candidate)!r}: {exc.strerror}"
                        ) from None
        lines = "".join(f"\n\t{line}" for line in tried)
        raise SandboxRefusal(
            f"module '{name}' not found (safe mode searches the script's directory and "
            f"tools.allowed_paths):{lines}"
        )


class EnvironmentPolicy:
    """`os.getenv` in safe mode: only names in `engines.lua.env_allowlist`."""

    def __init__(self, config: LLMSpellConfig, environ: Mapping[str, str] | None = None) -> None:
        self._allowed = frozenset(config.engines.lua.env_allowlist)
        self._secret = secret_env_names(config)
        self._environ = os.environ if environ is None else environ

    def getenv(self, name: str) -> str | None:
        if name.startswith(ENV_PREFIX) or name in self._secret:
            raise SandboxRefusal(
                f"os.getenv: {name!r} is never readable in safe mode (llmspell settings and "
                "provider API keys stay with the host)"
            )
        if name not in self._allowed:
            allowed = ", ".join(sorted(self._allowed)) or "none"
            raise SandboxRefusal(
                f"os.getenv: {name!r} is not in engines.lua.env_allowlist (safe mode); "
                f"allowed: {allowed}"
            )
        return self._environ.get(name)
