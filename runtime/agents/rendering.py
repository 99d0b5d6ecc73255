"""How an agent's reply looks in a notebook: the text, the tool calls it made, and a footer with
the model, the tokens it used and how long it took."""

from __future__ import annotations

import html
import json
from typing import Any

from llmspell.runtime.display import register_renderer

RESULT_KEYS = {"success", "text", "tool_calls", "usage", "metadata"}


def is_agent_result(value: Any) -> bool:
    """Whether `value` is what `agent:execute` returns."""
    return (
        isinstance(value, dict)
        and set(value) >= RESULT_KEYS
        and isinstance(value.get("metadata"), dict)
        and "agent" in value["metadata"]
        and isinstance(value.get("usage"), dict)
    )


def usage_line(value: dict[str, Any]) -> str:
    """`openai/gpt-4o-mini · 12 prompt + 30 completion tokens · 2 rounds · 320.5 ms`."""
    meta, usage = value["metadata"], value["usage"]
    parts = [str(meta.get("model") or meta.get("strategy") or "")]
    if meta.get("provider"):
        parts[0] = f"{meta['provider']}/{parts[0]}"
    parts.append(
        f"{usage.get('prompt_tokens', 0)} prompt + {usage.get('completion_tokens', 0)} "
        "completion tokens"
    )
    if meta.get("rounds", 1) > 1:
        parts.append(f"{meta['rounds']} rounds")
    if meta.get("duration_ms") is not None:
        parts.append(f"{float(meta['duration_ms']):.1f} ms")
    return " · ".join(p for p in parts if p)


def agent_result_html(value: Any) -> str | None:
    if not is_agent_result(value):
        return None
    calls = value.get("tool_calls") or []
    rows = "".join(
        f"<li><code>{_e(c.get('name'))}({_e(json.dumps(c.get('arguments'), default=str))})"
        f"</code> → {_e(_short(c.get('result') if c.get('success') else c.get('error')))}</li>"
        for c in calls
        if isinstance(c, dict)
    )
    tools = f"<ul>{rows}</ul>" if rows else ""
    return (
        f'<div class="llmspell-agent"><p><b>{_e(value["metadata"].get("agent"))}</b></p>'
        f'<div style="white-space:pre-wrap">{_e(value.get("text", ""))}</div>{tools}'
        f'<p style="color:#6b7280;font-size:smaller">{_e(usage_line(value))}</p></div>'
    )


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 120 else text[:119] + "…"


def _e(value: Any) -> str:
    return html.escape(str(value))


def _bundle(value: Any) -> dict[str, Any] | None:
    markup = agent_result_html(value)
    return None if markup is None else {"text/html": markup}


register_renderer(_bundle)
