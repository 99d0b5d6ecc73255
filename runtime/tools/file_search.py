"""The `file-search` tool: lines of text files under a directory that contain a text or match
an RE2 pattern, only inside `tools.allowed_paths`."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from llmspell.runtime.host_limits import UNLIMITED, HostLimits
from llmspell.runtime.tools.json_schema import SchemaProblem, compile_pattern
from llmspell.runtime.tools.paths import PathNotAllowed, resolve_allowed_path
from llmspell.runtime.tools.registry import Tool, ToolFailure

MAX_FILE_BYTES = 10 * 1024 * 1024  # larger files are skipped, and counted as skipped
MAX_LINE_CHARS = 500  # a matching line is shown up to this length
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "operation": {"enum": ["search", "search_regex"]},
        "path": {"type": "string", "minLength": 1},
        "pattern": {"type": "string", "minLength": 1},
        "recursive": {"type": "boolean"},
        "file_pattern": {"type": "string", "minLength": 1},
        "case_sensitive": {"type": "boolean"},
        "max_results": {"type": "integer", "minimum": 1, "maximum": 10_000},
    },
    "required": ["path", "pattern"],
    "additionalProperties": False,
}


def make_tool(allowed_paths: Sequence[str], limits: HostLimits = UNLIMITED) -> Tool:
    """file-search over files inside `allowed_paths`, within the `limits` of the script."""

    def search(params: dict[str, Any]) -> dict[str, Any]:
        root = resolve_allowed_path(params["path"], allowed_paths)
        if not root.exists():
            raise ToolFailure(f"{params['path']!r} does not exist")
        matches = _matcher(params)
        wanted = params.get("file_pattern", "*")
        limit = params.get("max_results", 1000)
        found: list[dict[str, Any]] = []
        searched = skipped = 0
        for path in _files(root, params.get("recursive", True)):
            limits.check_stop()
            if not fnmatch.fnmatch(path.name, wanted):
                continue
            try:
                if path.is_symlink():  # the walk stays inside the root; a link may lead out
                    path = resolve_allowed_path(str(path), allowed_paths)
                if path.stat().st_size > MAX_FILE_BYTES:
                    skipped += 1
                    continue
                data = path.read_bytes()
            except (OSError, PathNotAllowed):
                skipped += 1
                continue
            if b"\x00" in data[:8192]:  # binary
                continue
            searched += 1
            for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
                if matches(line):
                    found.append({"path": str(path), "line": number, "text": line[:MAX_LINE_CHARS]})
                    if len(found) >= limit:
                        return _output(found, searched, skipped, truncated=True)
        return _output(found, searched, skipped, truncated=False)

    return Tool(
        name="file-search",
        description="Finds the lines of text files under a directory (inside "
        "tools.allowed_paths) that contain a text (search) or match an RE2 pattern "
        "(search_regex)",
        category="filesystem",
        schema=SCHEMA,
        run=search,
        tags=("files", "search", "offline"),
    )


def _output(
    found: list[dict[str, Any]], searched: int, skipped: int, truncated: bool
) -> dict[str, Any]:
    return {
        "matches": found,
        "total_matches": len(found),
        "files_searched": searched,
        "files_skipped": skipped,
        "truncated": truncated,
    }


def _matcher(params: dict[str, Any]) -> Any:
    pattern: str = params["pattern"]
    sensitive = params.get("case_sensitive", True)
    if params.get("operation", "search") == "search_regex":
        try:
            compiled = compile_pattern(pattern if sensitive else f"(?i){pattern}")
        except SchemaProblem as exc:
            raise ToolFailure(f"pattern {exc}") from None
        return lambda line: compiled.search(line) is not None
    if sensitive:
        return lambda line: pattern in line
    folded = pattern.casefold()
    return lambda line: folded in line.casefold()


def _files(root: Path, recursive: bool) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    if not recursive:
        yield from sorted(p for p in root.iterdir() if p.is_file())
        return
    for folder, dirs, files in os.walk(root):  # symlinked folders are not followed
        dirs.sort()
        for name in sorted(files):
            yield Path(folder) / name
