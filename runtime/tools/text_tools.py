"""Text tools: `text-manipulator` (case, trim, replace, split, count...) and `template-creator`
(`{{name}}` templates filled from a context table)."""

from __future__ import annotations

import re
from typing import Any

from llmspell.runtime.display.text import text_of
from llmspell.runtime.tools.registry import Tool, ToolFailure

TEXT_OPERATIONS = (
    "uppercase",
    "lowercase",
    "trim",
    "reverse",
    "replace",
    "split",
    "count",
    "snake_case",
    "camel_case",
)
COUNT_TYPES = ("chars", "words", "lines")

TEXT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "operation": {"enum": list(TEXT_OPERATIONS)},
        "input": {"type": "string"},
        "pattern": {"type": "string"},
        "replacement": {"type": "string"},
        "count_type": {"enum": list(COUNT_TYPES)},
    },
    "required": ["operation", "input"],
    "additionalProperties": False,
    "allOf": [
        {
            "if": {"properties": {"operation": {"const": "replace"}}},
            "then": {"required": ["pattern"]},
        }
    ],
}

_WORD_BOUNDARY = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])|\d+")


def _words(text: str) -> list[str]:
    return _WORD_BOUNDARY.findall(text)


def manipulate(params: dict[str, Any]) -> Any:
    """The result of one text-manipulator operation (see TEXT_SCHEMA)."""
    text: str = params["input"]
    operation = params["operation"]
    if operation == "uppercase":
        return text.upper()
    if operation == "lowercase":
        return text.lower()
    if operation == "trim":
        return text.strip()
    if operation == "reverse":
        return text[::-1]
    if operation == "replace":
        if not params["pattern"]:
            raise ToolFailure("pattern must not be empty for replace")
        return text.replace(params["pattern"], params.get("replacement", ""))
    if operation == "split":
        separator = params.get("pattern")
        return text.split(separator) if separator else text.split()
    if operation == "count":
        kind = params.get("count_type", "chars")
        if kind == "chars":
            return len(text)
        if kind == "words":
            return len(text.split())
        return len(text.splitlines())
    words = [w.lower() for w in _words(text)]
    if operation == "snake_case":
        return "_".join(words)
    return words[0] + "".join(w.capitalize() for w in words[1:]) if words else ""


TEXT_MANIPULATOR = Tool(
    name="text-manipulator",
    description="Transforms text: uppercase, lowercase, trim, reverse, replace, split, count, "
    "snake_case, camel_case",
    category="text",
    schema=TEXT_SCHEMA,
    run=manipulate,
    tags=("text", "offline"),
    aliases={"text": "input"},
)

TEMPLATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        # operation and engine: the reference's template-engine calls; both engines it names
        # read {{name}} placeholders, which is what this tool fills.
        "operation": {"enum": ["render"]},
        "engine": {"enum": ["handlebars", "tera"]},
        "input": {"type": "string"},
        "context": {"type": "object"},
    },
    "required": ["input"],
    "additionalProperties": False,
}
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*\}\}")


def render_template(params: dict[str, Any]) -> str:
    """The template with each `{{name}}` (or `{{a.b}}`) replaced from `context`."""
    context = params.get("context") or {}

    def fill(match: re.Match[str]) -> str:
        value: Any = context
        for part in match.group(1).split("."):
            if isinstance(value, dict) and part in value:
                value = value[part]
            elif isinstance(value, list) and part.isdigit() and 0 < int(part) <= len(value):
                value = value[int(part) - 1]
            else:
                raise ToolFailure(
                    f"template uses {{{{{match.group(1)}}}}}, which context does not have"
                )
        return text_of(value)

    return _PLACEHOLDER.sub(fill, params["input"])


TEMPLATE_CREATOR = Tool(
    name="template-creator",
    description="Fills a {{name}} template from a context table",
    category="text",
    schema=TEMPLATE_SCHEMA,
    run=render_template,
    tags=("text", "template", "offline"),
    aliases={"template": "input", "data": "context"},
)
