"""How an assembled context looks in a notebook: a summary line, its chunks as a table with
the query's terms marked, and the formatted text a prompt would get."""

from __future__ import annotations

import html
import json
from typing import Any

from llmspell.runtime.display.rag import highlight_html

CONTEXT_KEYS = {"chunks", "token_count", "total_confidence", "temporal_span", "formatted"}


def is_context(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and set(value) >= CONTEXT_KEYS
        and isinstance(value["chunks"], list)
        and isinstance(value["formatted"], str)
    )


def context_html(value: dict[str, Any]) -> str:
    """`Context.assemble`'s result: summary, chunks (terms marked), formatted text."""
    query = str(value.get("query", ""))
    rows = []
    for rank, chunk in enumerate(value["chunks"], start=1):
        if not isinstance(chunk, dict):
            continue
        score = chunk.get("score")
        rows.append(
            "<tr>"
            f"<td>{rank}</td>"
            f"<td>{html.escape(str(chunk.get('source', '')))}</td>"
            f"<td>{'' if score is None else f'{float(score):.3f}'}</td>"
            f"<td>{html.escape(str(chunk.get('timestamp') or ''))}</td>"
            f"<td>{highlight_html(str(chunk.get('content', '')), query)}</td>"
            f"<td>{html.escape(json.dumps(chunk.get('metadata') or {}, default=str))}</td>"
            "</tr>"
        )
    head = "".join(
        f"<th>{c}</th>" for c in ("#", "source", "score", "timestamp", "content", "metadata")
    )
    budget = value.get("max_tokens")
    summary = (
        f"{len(rows)} chunks, {value['token_count']} tokens"
        + (f" of {budget}" if budget is not None else "")
        + f", confidence {float(value['total_confidence']):.3f}"
    )
    return (
        f"<p><b>{html.escape(query)}</b> — {html.escape(summary)}</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f"<pre>{html.escape(value['formatted'])}</pre>"
    )


def render_context_value(value: Any) -> dict[str, Any] | None:
    """The notebook picture of an assembled context (else None)."""
    if is_context(value):
        return {"text/html": context_html(value)}
    return None


__all__ = ["context_html", "is_context", "render_context_value"]
