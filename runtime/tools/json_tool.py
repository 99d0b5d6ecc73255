"""The `json-processor` tool: JMESPath queries (`jmespath`), JSON Schema validation
(`jsonschema`, patterns on RE2: see json_schema.py), and pretty-printing."""

from __future__ import annotations

import json
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError

from llmspell.runtime.tools.json_schema import SchemaProblem, compile_schema
from llmspell.runtime.tools.registry import Tool, ToolFailure, ToolOutput

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "operation": {"enum": ["query", "validate", "format"]},
        "input": {},
        "query": {"type": "string"},
        "schema": {"type": "object"},
        "indent": {"type": "integer", "minimum": 0, "maximum": 8},
    },
    "required": ["operation", "input"],
    "additionalProperties": False,
    "allOf": [
        {"if": {"properties": {"operation": {"const": "query"}}}, "then": {"required": ["query"]}},
        {
            "if": {"properties": {"operation": {"const": "validate"}}},
            "then": {"required": ["schema"]},
        },
    ],
}
MAX_VALIDATION_ERRORS = 20


def _document(value: Any) -> Any:
    """The JSON document: parsed when `input` is JSON text, as given when it is a table."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ToolFailure(
                f"input is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            ) from None
    return value


def process(params: dict[str, Any]) -> Any:
    """The result of one json-processor operation (see SCHEMA)."""
    document = _document(params["input"])
    operation = params["operation"]
    if operation == "query":
        try:
            return jmespath.search(params["query"], document)
        except JMESPathError as exc:
            raise ToolFailure(f"invalid JMESPath query {params['query']!r}: {exc}") from None
    if operation == "validate":
        try:
            errors = [
                f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
                for error in compile_schema(params["schema"]).iter_errors(document)
            ]
        except SchemaProblem as exc:
            raise ToolFailure(f"schema {exc}") from None
        return ToolOutput(not errors, {"errors": errors[:MAX_VALIDATION_ERRORS]})
    return json.dumps(document, indent=params.get("indent", 2), ensure_ascii=False, sort_keys=True)


TOOL = Tool(
    name="json-processor",
    description="Queries and transforms JSON with JMESPath, validates it against a JSON "
    "Schema, or pretty-prints it",
    category="data",
    schema=SCHEMA,
    run=process,
    tags=("json", "jmespath", "offline"),
)
