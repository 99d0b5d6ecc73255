"""The `csv-analyzer` tool: column statistics, filtering and the first rows of CSV text or a
CSV file inside `tools.allowed_paths` (stdlib `csv`)."""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Iterator, Sequence
from typing import Any

from llmspell.runtime.host_limits import UNLIMITED, HostLimits
from llmspell.runtime.tools.paths import resolve_allowed_path
from llmspell.runtime.tools.registry import Tool, ToolFailure

MAX_CSV_BYTES = 50 * 1024 * 1024
CHECK_EVERY = 50_000  # rows read or looked at between two checks of the script's limits
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


def _text(params: dict[str, Any], allowed_paths: Sequence[str], limits: HostLimits) -> str:
    if "path" not in params:
        text: str = params["input"]
        limits.check_size("the CSV input", len(text))
        return text
    path = resolve_allowed_path(params["path"], allowed_paths)
    try:
        size = path.stat().st_size
        if size > MAX_CSV_BYTES:
            raise ToolFailure(f"{params['path']!r} is larger than {MAX_CSV_BYTES} bytes")
        limits.check_size(f"the CSV file {params['path']!r}", size)
        return path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ToolFailure(f"cannot read {params['path']!r}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ToolFailure(f"{params['path']!r} is not UTF-8 text") from None


class _Table:
    """The rows of CSV text under its header row, read with the script's limits checked every
    CHECK_EVERY rows. A row is a list (a dict per row would take twice the memory); a short
    row has no value for the missing columns, a long row's extra fields have no column."""

    def __init__(self, text: str, limits: HostLimits, n: int | None = None) -> None:
        reader = csv.reader(io.StringIO(text))
        try:
            header = next(reader, None)
            if header is None:
                raise ToolFailure("the CSV has no header row")
            self.columns = header
            self.rows: list[list[str]] = []
            for row in reader:
                if not row:
                    continue  # a blank line, as csv.DictReader skips it
                if len(self.rows) % CHECK_EVERY == 0:
                    limits.check_stop()
                if n is not None and len(self.rows) >= n:
                    break
                self.rows.append(row)
        except csv.Error as exc:
            raise ToolFailure(f"input is not valid CSV: {exc}") from None
        self._limits = limits

    def records(self, rows: list[list[str]]) -> list[dict[str, str | None]]:
        """Rows as {column: value} (None where a row is short), as `filter` and `head` give
        them."""
        width = len(self.columns)
        return [
            dict(zip(self.columns, row[:width] + [None] * (width - len(row)), strict=True))
            for row in rows
        ]

    def column_names(self, column: str | None) -> list[str]:
        if column is None:
            return list(self.columns) if self.rows else []
        if self.rows and column not in self.columns:
            raise ToolFailure(f"no column {column!r}; columns: {', '.join(self.columns)}")
        return [column]

    def values(self, name: str) -> list[str]:
        index = self.columns.index(name)
        out: list[str] = []
        for block in _blocks(self.rows, self._limits):
            out += [row[index] if index < len(row) else "" for row in block]
        return out


def _blocks(items: list[Any], limits: HostLimits) -> Iterator[list[Any]]:
    """`items` CHECK_EVERY at a time, the script's limits checked before each."""
    for start in range(0, len(items), CHECK_EVERY):
        limits.check_stop()
        yield items[start : start + CHECK_EVERY]


def _stats(table: _Table, column: str | None, limits: HostLimits) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in table.column_names(column):
        values = table.values(name)
        present: list[str] = []
        numbers: list[int | float] = []
        numeric = True  # every value so far is a number (else they are not parsed any more)
        for block in _blocks(values, limits):
            filled = [v for v in block if v.strip()]
            present += filled
            if numeric:
                parsed = [n for n in map(_number, filled) if n is not None]
                numeric = len(parsed) == len(filled)
                numbers += parsed
        summary: dict[str, Any] = {"count": len(present), "missing": len(values) - len(present)}
        limits.check_stop()
        if numeric and numbers:
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
        limits.check_stop()
        out[name] = summary
    return {"rows": len(table.rows), "columns": table.column_names(None), "stats": out}


def _matching(table: _Table, where: dict[str, Any], limits: HostLimits) -> list[list[str]]:
    wanted: list[tuple[int, Any]] = []
    for key, value in where.items():
        if not table.rows:
            return []
        if key not in table.columns:
            raise ToolFailure(f"where names no column {key!r}; columns: {', '.join(table.columns)}")
        if isinstance(value, bool):
            value = "true" if value else "false"
        wanted.append((table.columns.index(key), value))
    found = []
    for count, row in enumerate(table.rows):
        if count % CHECK_EVERY == 0:
            limits.check_stop()
        if all(_matches(row[i] if i < len(row) else "", value) for i, value in wanted):
            found.append(row)
    return found


def _matches(cell: str, wanted: Any) -> bool:
    if isinstance(wanted, (int, float)):
        return _number(cell) == wanted
    return cell == str(wanted)


def make_tool(allowed_paths: Sequence[str], limits: HostLimits = UNLIMITED) -> Tool:
    """csv-analyzer reading files inside `allowed_paths`, within the `limits` of the script
    that runs it."""

    def analyze(params: dict[str, Any]) -> Any:
        text = _text(params, allowed_paths, limits)
        operation = params["operation"]
        if operation == "head":
            table = _Table(text, limits, params.get("n", 5))
            return table.records(table.rows)
        table = _Table(text, limits)
        if operation == "stats":
            return _stats(table, params.get("column"), limits)
        return table.records(_matching(table, params["where"], limits))

    return Tool(
        name="csv-analyzer",
        description="Column statistics, filtering (where = {column = value}) and the first n "
        "rows of CSV text or a CSV file",
        category="data",
        schema=SCHEMA,
        run=analyze,
        tags=("csv", "offline"),
    )
