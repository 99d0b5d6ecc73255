"""The `data-validation` tool: a value checked against a JSON Schema (patterns on RE2), with
every violation named by its path."""

from __future__ import annotations

from typing import Any

from llmspell.runtime.tools.json_schema import SchemaProblem, compile_schema
from llmspell.runtime.tools.registry import Tool, ToolFailure

MAX_ERRORS = 100
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "operation": {"enum": ["validate"]},
        "input": {},
        "schema": {"type": "object"},
    },
    "required": ["input", "schema"],
    "additionalProperties": False,
}


def schema_errors(document: Any, schema: dict[str, Any]) -> list[dict[str, str]]:
    """Each violation of `schema` by `document` as `{path, message}` (at most MAX_ERRORS);
    ToolFailure when the schema itself cannot be used."""
    try:
        validator = compile_schema(schema)
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    except SchemaProblem as exc:
        raise ToolFailure(f"schema {exc}") from None
    return [
        {
            "path": "/".join(str(p) for p in error.absolute_path) or "(root)",
            "message": error.message,
        }
        for error in errors[:MAX_ERRORS]
    ]


def validate(params: dict[str, Any]) -> dict[str, Any]:
    errors = schema_errors(params["input"], params["schema"])
    return {"valid": not errors, "errors": errors, "error_count": len(errors)}


TOOL = Tool(
    name="data-validation",
    description="Checks a value against a JSON Schema and lists every violation by path",
    category="data",
    schema=SCHEMA,
    run=validate,
    tags=("validation", "json", "offline"),
    aliases={"data": "input"},
)
