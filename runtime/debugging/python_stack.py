"""`Debug.stackTrace` for the Python engine: the frames of script code between the engine and
the call (the Lua engine reads its stack in the prelude)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llmspell.runtime.api.arguments import check_options, require_int, require_table, type_name

_TRACE_OPTIONS = ("max_depth", "capture_locals", "capture_upvalues", "include_source")


def python_stack_trace(
    fn: str, options: Any, flag: Callable[[str, str, Any], bool]
) -> dict[str, Any]:
    """The Python engine's stack trace: frames of script code (code not in a file of Python
    itself, its packages or llmspell), innermost first."""
    given = require_table(fn, "options", options)
    check_options(fn, given, set(_TRACE_OPTIONS))
    max_depth = require_int(fn, "max_depth", given.get("max_depth", 50), minimum=0)
    flags = {
        key: flag(fn, key, given[key])
        for key in ("capture_locals", "capture_upvalues", "include_source")
        if given.get(key) is not None
    }
    frames: list[dict[str, Any]] = []
    frame = sys._getframe(1)
    truncated = False
    while frame is not None:
        if _is_script_code(frame.f_code.co_filename):
            if len(frames) == max_depth:
                truncated = True
                break
            record: dict[str, Any] = {
                "name": frame.f_code.co_name,
                "line": frame.f_lineno,
                "what": "main" if frame.f_code.co_name == "<module>" else "Python",
            }
            if flags.get("include_source", True):
                record["source"] = frame.f_code.co_filename
            if flags.get("capture_locals"):
                record["locals"] = [
                    {"name": name, "value": _trace_value(value)}
                    for name, value in frame.f_locals.items()
                    if not name.startswith("__")
                ]
            if flags.get("capture_upvalues"):
                record["upvalues"] = [
                    {"name": name, "value": _trace_value(frame.f_locals.get(name))}
                    for name in frame.f_code.co_freevars
                ]
            frames.append(record)
        frame = frame.f_back  # type: ignore[assignment]
        if frame is not None and frame.f_code.co_filename == _ENGINE_FILE:
            break  # the engine running the script: what calls it is the host
    return {"frames": frames, "depth": len(frames), "truncated": truncated}


# Frames of these directories are the host's: Python, its packages and llmspell's runtime (the
# API wrappers between the script and this function, and the engine that runs the script).
_RUNTIME_DIR = str(Path(__file__).resolve().parents[1])
_HOST_DIRS = (*{str(Path(p).resolve()) for p in (sys.prefix, sys.base_prefix)}, _RUNTIME_DIR)
_ENGINE_FILE = str(Path(__file__).parents[1] / "engines" / "python" / "engine.py")  # as imported


def _is_script_code(filename: str) -> bool:
    if filename.startswith("<frozen"):
        return False
    try:
        resolved = str(Path(filename).resolve())
    except (OSError, ValueError):
        return True
    return not resolved.startswith(_HOST_DIRS)


def _trace_value(value: Any) -> Any:
    if isinstance(value, bool | int | float | str):
        return value
    return f"<{type_name(value)}>"
