"""How RAG values look in a notebook: search results as a table with the query's terms marked
in each chunk, statistics as a table, and a large ingest's progress as a bar. (Outside the rag
package, which loads storage: building the globals must not.)"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from llmspell.runtime.display.bundles import html_table

_WORDS = re.compile(r"\w+")


def highlight_html(text: str, query: str, mark: str = "mark") -> str:
    """`text` as HTML (escaped) with every word that matches a keyword of `query` (same word or
    same Snowball stem) wrapped in `<mark>`."""
    from llmspell.runtime.retrieval.keyword import query_terms, stem

    terms = query_terms(query)
    wanted = set(terms) | {stem(term) for term in terms}
    if not wanted:
        return html.escape(text)
    out: list[str] = []
    position = 0
    for match in _WORDS.finditer(text):
        word = match.group().lower()
        if word in wanted or stem(word) in wanted:
            out.append(html.escape(text[position : match.start()]))
            out.append(f"<{mark}>{html.escape(match.group())}</{mark}>")
            position = match.end()
    out.append(html.escape(text[position:]))
    return "".join(out)


STATS_KEYS = {"documents", "chunks", "vectors", "dimensions", "storage_bytes", "embedding_model"}
MAX_CONTENT_CHARS = 600


def is_search_result(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and set(value) - {"success"} == {"query", "total", "results"}
        and isinstance(value["query"], str)
        and isinstance(value["results"], list)
    )


def search_result_html(value: dict[str, Any]) -> str:
    """The results of `RAG.search` as a table, matched terms in `<mark>`."""
    query = value["query"]
    rows = []
    for rank, hit in enumerate(value["results"], start=1):
        if not isinstance(hit, dict):
            continue
        content = str(hit.get("content", ""))
        if len(content) > MAX_CONTENT_CHARS:
            content = content[:MAX_CONTENT_CHARS] + "…"
        meta = hit.get("metadata") or {}
        score = hit.get("score")
        rows.append(
            "<tr>"
            f"<td>{rank}</td>"
            f"<td>{'' if score is None else f'{float(score):.3f}'}</td>"
            f"<td>{html.escape(str(hit.get('document_id', '')))}</td>"
            f"<td>{highlight_html(content, query)}</td>"
            f"<td>{html.escape(json.dumps(meta, ensure_ascii=False, default=str))}</td>"
            "</tr>"
        )
    head = "".join(f"<th>{c}</th>" for c in ("#", "score", "document_id", "content", "metadata"))
    caption = (
        f"<caption>{html.escape(query)} — {value['total']} result"
        f"{'' if value['total'] == 1 else 's'}</caption>"
    )
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def render_rag_value(value: Any) -> dict[str, Any] | None:
    """The notebook picture of a RAG search result or of RAG statistics (else None)."""
    if is_search_result(value):
        return {"text/html": search_result_html(value)}
    if isinstance(value, dict) and set(value) >= STATS_KEYS:
        rows = [{"statistic": key, "value": item} for key, item in value.items()]
        return {"text/html": html_table(rows, ["statistic", "value"])}
    return None


def ingest_progress(done: int, total: int) -> dict[str, Any]:
    """The display of an ingest that has stored `done` of `total` chunks."""
    percent = 100 * done // total if total else 100
    text = f"RAG.ingest: {done}/{total} chunks stored ({percent}%)"
    return {
        "text/plain": text,
        "text/html": (
            f'<progress value="{done}" max="{total}" style="width: 20em"></progress> '
            f"{html.escape(text)}"
        ),
    }


__all__ = [
    "highlight_html",
    "ingest_progress",
    "is_search_result",
    "render_rag_value",
    "search_result_html",
]
