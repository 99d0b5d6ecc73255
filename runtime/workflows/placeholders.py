"""`{{input.x}}`, `{{step.<name>.result}}` and `{{step.<name>.result.<field>}}` in step inputs.

Placeholders are replaced in every string of a step's input, nested tables included. A string
that is exactly one placeholder takes the value itself (a number stays a number, a table a
table); inside longer text the value is written as text. A placeholder that names nothing
raises, naming it. Braces around other names (`{{name}}` in a template-creator template) are
not workflow placeholders and stay as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from llmspell.runtime.display.text import text_of
from llmspell.runtime.errors import InvalidArgument

PLACEHOLDER = re.compile(r"\{\{\s*((?:input|step)(?:\.[^{}\s]*)?)\s*\}\}")


class PlaceholderError(InvalidArgument):
    """A placeholder names an input field or step result that does not exist."""


def substitute(value: Any, input_: Any, outputs: Mapping[str, Any]) -> Any:
    """`value` with every placeholder replaced from the workflow input and step outputs."""
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value)
        if whole is not None:
            return lookup(whole.group(1), input_, outputs)
        if "{{" not in value:
            return value
        return PLACEHOLDER.sub(lambda m: text_of(lookup(m.group(1), input_, outputs)), value)
    if isinstance(value, list):
        return [substitute(item, input_, outputs) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, input_, outputs) for key, item in value.items()}
    return value


def lookup(path: str, input_: Any, outputs: Mapping[str, Any]) -> Any:
    """The value `input.a.b` or `step.<name>.result.c` names."""
    parts = path.split(".")
    if parts[0] == "input" and len(parts) >= 2:
        return _walk(input_, parts[1:], path, "the workflow input")
    if parts[0] == "step" and len(parts) >= 3:
        name = parts[1]
        if name not in outputs:
            done = ", ".join(sorted(outputs)) or "none yet"
            raise PlaceholderError(
                f"placeholder {{{{{path}}}}} names step {name!r}, which has no result "
                f"(steps with results: {done})"
            )
        return _walk(outputs[name], parts[2:], path, f"the output of step {name!r}")
    raise PlaceholderError(
        f"unknown placeholder {{{{{path}}}}}; use {{{{input.<field>}}}}, "
        "{{step.<name>.result}} or {{step.<name>.result.<field>}}"
    )


def _walk(value: Any, parts: list[str], path: str, where: str) -> Any:
    for part in parts:
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and 0 < int(part) <= len(value):
            value = value[int(part) - 1]  # 1-based, as Lua lists are
        else:
            raise PlaceholderError(f"placeholder {{{{{path}}}}}: {where} has no field {part!r}")
    return value
