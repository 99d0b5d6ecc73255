"""The `csv-analyzer` tool: column statistics, filtering and the first rows of CSV text or a
CSV file inside `tools.allowed_paths` (stdlib `csv`)."""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Sequence
from typing import Any

from llmspell.runtime.tools.paths import resolve_allowed_path
from llmspell.runtime.tools.registry import Tool, ToolFailure

MAX_CSV_BYTES = 50 * 1024 * 1024
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "operation": {"enum": ["stats", "filter", "head"]},
        "input": {"type": "string"},
        "path": {"type": "string"},
        "column": {"type": "string"},
        "where": {"type": "object"},
        "n": {"type": "integer", "minimum": 0},
    },
    "required": ["operation"],
    "additionalProperties": False,
    "oneOf": [{"required": ["input"]}, {"required": ["path"]}],
    "allOf": [
        {"if": {"properties": {"operation": {"const": "filter"}}}, "then": {"required": ["where"]}}
    ],
}


def _number(text: str) -> int | float | None:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value else None


def _rows(params: dict[str, Any], allowed_paths: Sequence[str]) -> list[dict[str, str]]:
    if "path" in params:
        path = resolve_allowed_path(params["path"], allowed_paths)
        try:
            if path.stat().st_size > MAX_CSV_BYTES:
                raise ToolFailure(f"{params['path']!r} is larger than {MAX_CSV_BYTES} bytes")
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise ToolFailure(f"cannot read {params['path']!r}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ToolFailure(f"{params['path']!r} is not UTF-8 text") from None
    else:
        text = params["input"]
    try:
        reader = csv.DictReader(io.StringIO(text))
        rows = list(reader)
    except csv.Error as exc:
        raise ToolFailure(f"input is not valid CSV: {exc}") from None
    if reader.fieldnames is None:
        raise ToolFailure("the CSV has no header row")
    return rows


def _columns(rows: list[dict[str, str]], column: str | None) -> list[str]:
    names = list(rows[0].keys()) if rows else []
    if column is None:
        return names
    if rows and column not in names:
        raise ToolFailure(f"no column {column!r}; columns: {', '.join(names)}")
    return [column]


def _stats(rows: list[dict[str, str]], column: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _columns(rows, column):
        values = [row.get(name) or "" for row in rows]
        present = [v for v in values if v.strip()]
        numbers = [n for n in (_number(v) for v in present) if n is not None]
        summary: dict[str, Any] = {"count": len(present), "missing": len(values) - len(present)}
        if numbers and len(numbers) == len(present):
            summary.update(
                type="number",
                min=min(numbers),
                max=max(numbers),
                sum=sum(numbers),
                mean=statistics.fmean(numbers),
                median=statistics.median(numbers),
            )
        else:
            summary.update(type="text", unique=len(set(present)))
        out[name] = summary
    return {"rows": len(rows), "columns": _columns(rows, None), "stats": out}


def _matches(row: dict[str, str], where: dict[str, Any]) -> bool:
    for key, wanted in where.items():
        if key not in row:
            raise ToolFailure(f"where names no column {key!r}; columns: {', '.join(row)}")
        cell = row[key] or ""
        if isinstance(wanted, bool):
            wanted = "true" if wanted else "false"
        if isinstance(wanted, (int, float)):
            if _number(cell) != wanted:
                return False
        elif cell != str(wanted):
            return False
    return True


def make_tool(allowed_paths: Sequence[str]) -> Tool:
    """csv-analyzer reading files inside `allowed_paths`."""

    def analyze(params: dict[str, Any]) -> Any:
        rows = _rows(params, allowed_paths)
        operation = params["operation"]
        if operation == "stats":
            return _stats(rows, params.get("column"))
        if operation == "filter":
            return [row for row in rows if _matches(row, params["where"])]
        return rows[: params.get("n", 5)]

    return Tool(
        name="csv-analyzer",
        description="Column statistics, filtering (where = {column = value}) and the first n "
        "rows of CSV text or a CSV file",
        category="data",
        schema=SCHEMA,
        run=analyze,
        tags=("csv", "offline"),
    )
