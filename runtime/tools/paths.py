"""The allowed-paths rule: scripts reach files only inside `tools.allowed_paths`.

One function decides it for every component that touches files for a script (the file tool,
the CSV tool, `Artifact.store_file`): the path is resolved first (`..`, symlinks, `~`, relative
paths against the working directory), then it must lie inside one of the allowed roots
(resolved the same way). A NUL byte, an empty path or an empty allow-list is refused.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llmspell.runtime.errors import DomainError, InvalidArgument, kind_of
from llmspell.storage.values import shown

# The file system's limits (Linux PATH_MAX and NAME_MAX, in bytes of UTF-8): a longer path
# cannot be opened, so it is refused with these numbers instead of the system's errno.
MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255


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
        raise PathNotAllowed(f"path must not contain a NUL byte, got {shown(path)}")
    check_path_length("path", path)
    roots = allowed_roots(allowed_paths, base=base)
    if not roots:
        raise PathNotAllowed(
            f"file access is disabled: tools.allowed_paths is empty, so {shown(path)} is refused"
        )
    anchor = Path(base) if base is not None else Path.cwd()
    candidate = Path(path).expanduser()
    if not candidate.is_absolute():
        candidate = anchor / candidate
    try:
        resolved = candidate.resolve(strict=False)
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise PathNotAllowed(f"path {shown(path)} cannot be resolved: {exc}") from None
    check_path_length("path (resolved)", resolved)  # a relative path grows by the directory
    if not any(resolved == root or resolved.is_relative_to(root) for root in roots):
        raise PathNotAllowed(
            f"path {shown(path)} (resolved to {shown(str(resolved))}) is outside "
            f"tools.allowed_paths ({', '.join(str(r) for r in roots)})"
        )
    return resolved


def check_path_length(what: str, path: str | os.PathLike[str]) -> None:
    """InvalidArgument naming `what` when `path`, or one name in it, is longer than a file
    system allows (MAX_PATH_BYTES, MAX_NAME_BYTES)."""
    text = os.fsdecode(path)
    size = len(text.encode("utf-8", "surrogateescape"))
    if size > MAX_PATH_BYTES:
        raise InvalidArgument(
            f"{what} must be at most {MAX_PATH_BYTES} bytes long (the file system's limit), "
            f"got {size} bytes: {shown(text)}"
        )
    names = Path(text).parts
    longest = max(names, key=lambda name: len(name.encode("utf-8", "surrogateescape")), default="")
    size = len(longest.encode("utf-8", "surrogateescape"))
    if size > MAX_NAME_BYTES:
        raise InvalidArgument(
            f"{what} has a name of {size} bytes, {shown(longest)}; the file system's limit "
            f"is {MAX_NAME_BYTES} bytes per name"
        )


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


def private_temp_path() -> str:
    """`<tmp>/llmspell-<uid>`: the user's private temporary directory (see private_temp_root)."""
    owner = os.getuid() if hasattr(os, "getuid") else 0
    return os.path.join(tempfile.gettempdir(), f"llmspell-{owner}")


def private_temp_root() -> str | None:
    """`<tmp>/llmspell-<uid>`, the default of `tools.allowed_paths`, created (mode 0700) when
    missing; None when it exists but is not safely this user's own (a symlink, another
    owner, a directory others may write), so file access stays off instead of reaching a
    directory someone else prepared."""
    owner = os.getuid() if hasattr(os, "getuid") else 0
    path = private_temp_path()
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        logging.getLogger("llmspell.tools").warning("cannot create %s: %s", path, exc)
        return None
    info = os.lstat(path)
    unsafe = (
        not stat.S_ISDIR(info.st_mode)
        or (hasattr(os, "getuid") and info.st_uid != owner)
        or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )
    if unsafe:
        logging.getLogger("llmspell.tools").warning(
            "%s is not a private directory of this user; tools.allowed_paths defaults to none",
            path,
        )
        return None
    return path
