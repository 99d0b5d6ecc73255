"""The allowed-paths rule: scripts reach files only inside `tools.allowed_paths`.

One function decides it for every component that touches files for a script (the file tool,
the CSV tool, `Artifact.store_file`): the path is resolved first (`..`, symlinks, `~`, relative
paths against the working directory), then it must lie inside one of the allowed roots
(resolved the same way). A NUL byte, an empty path or an empty allow-list is refused.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llmspell.runtime.errors import DomainError, kind_of


class PathNotAllowed(DomainError, ValueError):
    """A path lies outside `tools.allowed_paths` (or is not a usable path at all)."""

    ename = "PermissionError"


def resolve_allowed_path(
    path: Any, allowed_paths: Sequence[str], *, base: str | os.PathLike[str] | None = None
) -> Path:
    """The absolute, fully resolved form of `path` if it lies inside one of `allowed_paths`;
    otherwise PathNotAllowed naming the path and the allowed roots.

    Relative paths (and relative allowed roots) are taken from `base`, default the working
    directory. Symlinks are followed before the check, so a link inside an allowed root that
    points outside it is refused; a path that does not exist yet is resolved through its
    existing parents (so it can be created)."""
    if not isinstance(path, str):
        raise PathNotAllowed(f"path must be a string, got {kind_of(path)}")
    if not path:
        raise PathNotAllowed("path must be a non-empty string")
    if "\x00" in path:
        raise PathNotAllowed(f"path must not contain a NUL byte, got {path!r}")
    roots = allowed_roots(allowed_paths, base=base)
    if not roots:
        raise PathNotAllowed(
            f"file access is disabled: tools.allowed_paths is empty, so {path!r} is refused"
        )
    anchor = Path(base) if base is not None else Path.cwd()
    candidate = Path(path).expanduser()
    if not candidate.is_absolute():
        candidate = anchor / candidate
    try:
        resolved = candidate.resolve(strict=False)
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise PathNotAllowed(f"path {path!r} cannot be resolved: {exc}") from None
    if not any(resolved == root or resolved.is_relative_to(root) for root in roots):
        raise PathNotAllowed(
            f"path {path!r} (resolved to {str(resolved)!r}) is outside tools.allowed_paths "
            f"({', '.join(str(r) for r in roots)})"
        )
    return resolved


def allowed_roots(
    allowed_paths: Sequence[str], *, base: str | os.PathLike[str] | None = None
) -> list[Path]:
    """The allowed roots, resolved (relative ones from `base`, default the working directory)."""
    anchor = Path(base) if base is not None else Path.cwd()
    roots = []
    for entry in allowed_paths:
        if not entry or "\x00" in entry:
            continue
        root = Path(entry).expanduser()
        if not root.is_absolute():
            root = anchor / root
        roots.append(root.resolve(strict=False))
    return roots
