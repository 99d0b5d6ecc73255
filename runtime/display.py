"""Mime bundles for values: JSON for tables, an HTML table for arrays of records."""

from __future__ import annotations

import html
import json
from typing import Any

MAX_HTML_ROWS = 200


def records_columns(value: Any) -> list[str] | None:
    """Columns when `value` is a non-empty list of records sharing the same keys, else None."""
    if not isinstance(value, list) or not value:
        return None
    if not all(isinstance(row, dict) and row for row in value):
        return None
    keys = list(value[0].keys())
    if any(set(row.keys()) != set(keys) for row in value[1:]):
        return None
    return keys


def html_table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    columns = columns or _all_columns(rows)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = []
    for row in rows[:MAX_HTML_ROWS]:
        cells = "".join(f"<td>{html.escape(_cell_text(row.get(c)))}</td>" for c in columns)
        body.append(f"<tr>{cells}</tr>")
    more = ""
    if len(rows) > MAX_HTML_ROWS:
        more = f"<p>… {len(rows) - MAX_HTML_ROWS} more rows</p>"
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"


def text_table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    columns = columns or _all_columns(rows)
    cells = [[_cell_text(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    out = [line.rstrip(), "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(out)


def json_safe(value: Any) -> Any:
    """`value` if it serialises as JSON, else None (so no bundle claims JSON it cannot hold)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return value


def data_bundle(value: Any, text: str) -> dict[str, Any]:
    """The bundle for a script value whose `text/plain` form the engine already produced."""
    bundle: dict[str, Any] = {"text/plain": text}
    if isinstance(value, (dict, list)) and json_safe(value) is not None:
        bundle["application/json"] = value
        from llmspell.runtime.graph_display import is_neighbourhood, neighbourhood_html

        if is_neighbourhood(value):
            bundle["text/html"] = neighbourhood_html(value)
        columns = records_columns(value)
        if columns is not None and isinstance(value, list):
            bundle["text/html"] = html_table(value, columns)
    return bundle


def _all_columns(rows: list[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            seen.setdefault(str(key), None)
    return list(seen)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
