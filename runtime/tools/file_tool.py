"""The `file-operations` tool: read, write, append, exists, list, delete, mkdir, copy and move,
only inside `tools.allowed_paths` (checked by `resolve_allowed_path` before anything touches the
disk)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llmspell.runtime.tools.paths import resolve_allowed_path
from llmspell.runtime.tools.registry import Tool, ToolFailure

MAX_READ_BYTES = 50 * 1024 * 1024
# create_directory: the reference system's name for mkdir.
OPERATIONS = (
    "read",
    "write",
    "append",
    "exists",
    "list",
    "delete",
    "mkdir",
    "create_directory",
    "copy",
    "move",
)
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "operation": {"enum": list(OPERATIONS)},
        "path": {"type": "string", "minLength": 1},
        "input": {"type": "string"},
        "target_path": {"type": "string", "minLength": 1},
    },
    "required": ["operation", "path"],
    "additionalProperties": False,
    "allOf": [
        {
            "if": {"properties": {"operation": {"enum": ["write", "append"]}}},
            "then": {"required": ["input"]},
        },
        {
            "if": {"properties": {"operation": {"enum": ["copy", "move"]}}},
            "then": {"required": ["target_path"]},
        },
    ],
}


def make_tool(allowed_paths: Sequence[str]) -> Tool:
    """file-operations confined to `allowed_paths`."""

    def operate(params: dict[str, Any]) -> Any:
        shown = params["path"]
        path = resolve_allowed_path(shown, allowed_paths)
        operation = params["operation"]
        try:
            if operation == "exists":
                return path.exists()
            if operation == "read":
                if path.stat().st_size > MAX_READ_BYTES:
                    raise ToolFailure(f"{shown!r} is larger than {MAX_READ_BYTES} bytes")
                data = path.read_bytes()
                try:
                    return data.decode("utf-8")
                except UnicodeDecodeError:
                    return data  # binary: a byte string in Lua
            if operation in ("write", "append"):
                with path.open("a" if operation == "append" else "w", encoding="utf-8") as fh:
                    fh.write(params["input"])
                return True
            if operation == "list":
                return sorted(child.name for child in path.iterdir())
            if operation in ("mkdir", "create_directory"):
                path.mkdir(parents=True, exist_ok=True)
                return True
            if operation in ("copy", "move"):
                return _copy_or_move(operation, path, params["target_path"], allowed_paths)
            if path.is_dir():
                path.rmdir()  # only an empty directory: no recursive deletes from scripts
            else:
                path.unlink()
            return True
        except FileNotFoundError:
            raise ToolFailure(f"{shown!r} does not exist") from None
        except IsADirectoryError:
            raise ToolFailure(f"{shown!r} is a directory") from None
        except NotADirectoryError:
            raise ToolFailure(f"{shown!r} is not a directory") from None
        except OSError as exc:
            raise ToolFailure(f"{operation} {shown!r} failed: {exc.strerror or exc}") from None

    return Tool(
        name="file-operations",
        description="Reads, writes, appends, lists, creates, copies, moves and deletes files "
        "inside tools.allowed_paths",
        category="filesystem",
        schema=SCHEMA,
        run=operate,
        tags=("files", "offline"),
        aliases={"content": "input", "source_path": "path"},
    )


def _copy_or_move(operation: str, source: Path, target: str, allowed_paths: Sequence[str]) -> bool:
    destination = resolve_allowed_path(target, allowed_paths)
    if not source.is_file():
        raise ToolFailure(f"{operation} copies or moves one file; {str(source)!r} is not a file")
    if destination.is_dir():
        destination = destination / source.name
    if destination.exists():
        raise ToolFailure(f"{target!r} already exists; delete it first")
    if source.stat().st_size > MAX_READ_BYTES:
        raise ToolFailure(f"{str(source)!r} is larger than {MAX_READ_BYTES} bytes")
    if operation == "copy":
        shutil.copyfile(source, destination)
    else:
        shutil.move(source, destination)
    return True
