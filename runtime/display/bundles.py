"""Mime bundles for values: the readable text of every value, an HTML table for arrays of
records and for the record lists APIs return (`Records`), and what the API modules register for
values with a picture of their own (workflow results, session and artifact lists, images).

No bundle carries `application/json`: JupyterLab (and VS Code) rank it above `text/html` and
images, so a table or picture beside it would show as a collapsed JSON tree, and a Lua array in
that tree reads 0-based. Script values are shown as Lua text or as their picture instead."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from importlib import import_module
from typing import Any

from llmspell.runtime.api.base import JSON_NULL

MAX_HTML_ROWS = 200
# fn(value) -> the MIME entries of a value it recognises (merged over the generic bundle:
# text/html, an image type, a shorter text/plain...), or None for any other value.
Renderer = Callable[[Any], dict[str, Any] | None]
_RENDERERS: list[Renderer] = []


# Modules that register renderers as they are imported (API modules a start leaves unimported,
# runtime/api/catalog.py): imported before the first value that is not a plain scalar is shown.
_RENDERER_MODULES: set[str] = set()
_SCALARS = (type(None), bool, int, float, str, bytes)


def register_renderer(render: Renderer) -> None:
    """Let `render(value)` give the MIME entries of the values it recognises (the first
    renderer that answers wins)."""
    if render not in _RENDERERS:
        _RENDERERS.append(render)


def load_renderers_from(modules: Iterable[str]) -> None:
    """Import `modules` (which register renderers) before a value is next shown."""
    _RENDERER_MODULES.update(modules)


def registered_renderers() -> list[Renderer]:
    return list(_RENDERERS)


def _renderers() -> list[Renderer]:
    while _RENDERER_MODULES:
        import_module(_RENDERER_MODULES.pop())
    return _RENDERERS


class Records(list[dict[str, Any]]):
    """A list of API records (events, hook executions, sessions...): displayed as a table with
    these columns, in this order, even when a record lacks a field (a nil value in Lua)."""

    def __init__(self, rows: list[dict[str, Any]], columns: list[str]) -> None:
        super().__init__(rows)
        self.columns = list(columns)


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
    import html  # here: it loads its entity table (~1 ms), which a start showing no table skips

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
    """`value` as plain JSON data (`JSON.null` as None) if it serialises as JSON, else None
    (so no bundle claims JSON it cannot hold)."""
    nulls = 0

    def json_null_only(obj: Any) -> None:
        nonlocal nulls
        if obj is not JSON_NULL:
            raise TypeError(f"{type(obj).__name__} is not JSON data")
        nulls += 1

    try:
        text = json.dumps(value, allow_nan=False, default=json_null_only)
    except (TypeError, ValueError):
        return None
    return json.loads(text) if nulls else value


def data_bundle(value: Any, text: str) -> dict[str, Any]:
    """The bundle for a script value whose `text/plain` form the engine already produced: that
    text, plus an HTML table or picture when the value has one."""
    bundle: dict[str, Any] = {"text/plain": text}
    plain = json_safe(value) if isinstance(value, (dict, list)) else None
    if plain is not None:
        from llmspell.runtime.display.graph import is_neighbourhood, neighbourhood_html

        if is_neighbourhood(value):
            bundle["text/html"] = neighbourhood_html(value)
        columns = records_columns(value)
        if isinstance(value, Records) and value:
            columns = value.columns
        if columns is not None and isinstance(value, list):
            bundle["text/html"] = html_table(value, columns)
    for render in _RENDERERS if isinstance(value, _SCALARS) else _renderers():
        extra = render(value)
        if extra is not None:
            bundle.update(extra)
            break
    return bundle


def picture_first(bundle: dict[str, Any]) -> dict[str, Any]:
    """`bundle` without `application/json` when it also holds something to look at (HTML,
    Markdown, LaTeX, an image): frontends that rank JSON first would show the JSON tree instead."""
    if "application/json" in bundle and set(bundle) - {"application/json", "text/plain"}:
        return {mime: data for mime, data in bundle.items() if mime != "application/json"}
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
