"""Which files a script may read: the working directory and `tools.allowed_paths`, checked on
the real path (symlinks, `..` and `~` resolved first), so a link cannot lead outside."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from llmspell.runtime.errors import InvalidArgument, kind_of

if TYPE_CHECKING:
    from llmspell.runtime.config import LLMSpellConfig


def allowed_roots(config: LLMSpellConfig) -> list[Path]:
    """The directories scripts may reach: the working directory, then `tools.allowed_paths`."""
    return [Path.cwd(), *(Path(p).expanduser() for p in config.tools.allowed_paths)]


def resolve_allowed_path(path: object, roots: Sequence[str | os.PathLike[str]]) -> Path:
    """The real path of `path` (relative to the working directory) if it lies inside one of
    `roots`, else InvalidArgument naming the path and the rule.

    The check is on the resolved path, so `..`, `~` and symlinks (in any component, the last
    one included) are followed before it; callers open the returned path, not the given one.
    """
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str):
        raise InvalidArgument(f"path must be a string, got {kind_of(path)}")
    if not path:
        raise InvalidArgument("path must be a non-empty string")
    if "\x00" in path:
        raise InvalidArgument(f"path must not contain NUL bytes, got {path!r}")
    resolved = Path(path).expanduser().resolve()
    for root in roots:
        if resolved.is_relative_to(Path(root).expanduser().resolve()):
            return resolved
    raise InvalidArgument(
        f"{path!r} is outside the working directory and tools.allowed_paths "
        f"(it resolves to {str(resolved)!r})"
    )
