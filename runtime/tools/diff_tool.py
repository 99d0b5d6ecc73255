"""The `diff-calculator` tool: line differences of two texts (`difflib`, unified, context or
simple) and the changed paths between two JSON documents."""

from __future__ import annotations

import difflib
import json
from typing import Any

from llmspell.runtime.tools.registry import Tool, ToolFailure

MAX_CHANGES = 10_000
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "operation": {"enum": ["text", "json"]},
        "old_text": {"type": "string"},
        "new_text": {"type": "string"},
        "old_json": {},
        "new_json": {},
        "format": {"enum": ["unified", "context", "simple"]},
        "context_lines": {"type": "integer", "minimum": 0, "maximum": 100},
    },
    "additionalProperties": False,
    "allOf": [
        {
            "if": {"properties": {"operation": {"const": "json"}}, "required": ["operation"]},
            "then": {"required": ["old_json", "new_json"]},
            "else": {"required": ["old_text", "new_text"]},
        }
    ],
}


def calculate(params: dict[str, Any]) -> dict[str, Any]:
    """The result of one diff-calculator operation (see SCHEMA)."""
    if params.get("operation", "text") == "json":
        changes = _json_changes(_document(params["old_json"]), _document(params["new_json"]))
        return {"changes": changes[:MAX_CHANGES], "identical": not changes}
    old = params["old_text"].splitlines(keepends=True)
    new = params["new_text"].splitlines(keepends=True)
    fmt = params.get("format", "unified")
    n = params.get("context_lines", 3)
    # One matcher for the counts and the simple form (ndiff would compare every line pair).
    opcodes = difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    if fmt == "unified":
        lines = list(difflib.unified_diff(old, new, "old", "new", n=n))
    elif fmt == "context":
        lines = list(difflib.context_diff(old, new, "old", "new", n=n))
    else:
        lines = []
        for tag, i1, i2, j1, j2 in opcodes:
            if tag in ("delete", "replace"):
                lines += [f"- {line}" for line in old[i1:i2]]
            if tag in ("insert", "replace"):
                lines += [f"+ {line}" for line in new[j1:j2]]
    return {
        "diff": "".join(line if line.endswith("\n") else line + "\n" for line in lines),
        "format": fmt,
        "lines_added": sum(j2 - j1 for tag, _, _, j1, j2 in opcodes if tag in _ADDS),
        "lines_removed": sum(i2 - i1 for tag, i1, i2, _, _ in opcodes if tag in _REMOVES),
        "identical": old == new,
    }


_ADDS = ("insert", "replace")
_REMOVES = ("delete", "replace")


def _document(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ToolFailure(f"not valid JSON: {exc.msg} (line {exc.lineno})") from None
    return value


def _json_changes(old: Any, new: Any, path: str = "$") -> list[dict[str, Any]]:
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[dict[str, Any]] = []
        for key in sorted(set(old) | set(new), key=str):
            where = f"{path}.{key}"
            if key not in new:
                changes.append({"path": where, "kind": "removed", "old": old[key]})
            elif key not in old:
                changes.append({"path": where, "kind": "added", "new": new[key]})
            else:
                changes.extend(_json_changes(old[key], new[key], where))
        return changes
    if isinstance(old, list) and isinstance(new, list):
        changes = []
        for i in range(max(len(old), len(new))):
            where = f"{path}[{i}]"
            if i >= len(new):
                changes.append({"path": where, "kind": "removed", "old": old[i]})
            elif i >= len(old):
                changes.append({"path": where, "kind": "added", "new": new[i]})
            else:
                changes.extend(_json_changes(old[i], new[i], where))
        return changes
    if old == new and type(old) is type(new):
        return []
    return [{"path": path, "kind": "changed", "old": old, "new": new}]


TOOL = Tool(
    name="diff-calculator",
    description="Line differences between two texts (unified, context or simple) or the "
    "changed paths between two JSON documents",
    category="text",
    schema=SCHEMA,
    run=calculate,
    tags=("diff", "text", "json", "offline"),
    aliases={"old": "old_text", "new": "new_text"},
)
