"""A template's parameters: each declared once (type, required, default, constraints), from which
`Template.schema` is shown and a call's parameters are checked and completed."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from llmspell.runtime.errors import InvalidArgument, kind_of

ParamType = Literal["string", "integer", "number", "boolean", "array", "object"]


@dataclass(frozen=True)
class Parameter:
    """One parameter: `constraints` are `min_value`, `max_value`, `min_length`, `max_length`
    (characters of a string, items of an array), `pattern` (a regular expression a string must
    match) and `allowed_values` (of a string, or of each item of an array)."""

    name: str
    param_type: ParamType
    description: str
    required: bool = False
    default: Any = None
    constraints: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "param_type": self.param_type,
            "description": self.description,
            "required": self.required,
            "default": self.default,
        }
        if self.constraints:
            out["constraints"] = dict(self.constraints)
        return out

    def check(self, fn: str, value: Any) -> Any:
        """`value` if it has this parameter's type and meets its constraints."""
        where = f"{fn}: parameter {self.name!r}"
        ok = {
            "string": isinstance(value, str),
            "integer": _is_integer(value),
            "number": isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value),
            "boolean": isinstance(value, bool),
            "array": isinstance(value, list) or value == {},
            "object": isinstance(value, dict) or value == [],
        }[self.param_type]
        if not ok:
            raise InvalidArgument(
                f"{where} must be {_article(self.param_type)}, got {kind_of(value)}"
            )
        if self.param_type == "integer":
            value = int(value)
        if self.param_type == "array" and value == {}:
            value = []
        if self.param_type == "object" and value == []:
            value = {}
        c = self.constraints
        if "min_value" in c and value < c["min_value"]:
            raise InvalidArgument(f"{where} must be >= {c['min_value']}, got {value}")
        if "max_value" in c and value > c["max_value"]:
            raise InvalidArgument(f"{where} must be <= {c['max_value']}, got {value}")
        size = len(value) if isinstance(value, str | list) else None
        unit = "characters" if isinstance(value, str) else "items"
        if size is not None and "min_length" in c and size < c["min_length"]:
            raise InvalidArgument(f"{where} must have at least {c['min_length']} {unit}")
        if size is not None and "max_length" in c and size > c["max_length"]:
            raise InvalidArgument(f"{where} must have at most {c['max_length']} {unit}")
        if "pattern" in c and isinstance(value, str) and not re.fullmatch(c["pattern"], value):
            raise InvalidArgument(f"{where} must match {c['pattern']!r}, got {value!r}")
        allowed = c.get("allowed_values")
        if allowed is not None:
            items = value if isinstance(value, list) else [value]
            for item in items:
                if item not in allowed:
                    raise InvalidArgument(
                        f"{where} must be one of {', '.join(map(str, allowed))}, got {item!r}"
                    )
        if self.param_type == "array":
            for i, item in enumerate(value, start=1):
                if not isinstance(item, str | int | float | bool | dict | list):
                    raise InvalidArgument(f"{where}[{i}] must be data, got {kind_of(item)}")
        return value


@dataclass(frozen=True)
class TemplateSchema:
    """The parameters of one template."""

    parameters: Sequence[Parameter]

    def as_dict(self) -> dict[str, Any]:
        return {"parameters": [p.as_dict() for p in self.parameters]}

    def validate(self, fn: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Every parameter checked, defaults filled in; an unknown or missing one refused."""
        known = {p.name: p for p in self.parameters}
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise InvalidArgument(
                f"{fn}: unknown parameter {unknown[0]!r}; allowed: {', '.join(sorted(known))}"
            )
        out: dict[str, Any] = {}
        for p in self.parameters:
            value = params.get(p.name)
            if value is None:
                if p.required:
                    raise InvalidArgument(
                        f"{fn}: parameter {p.name!r} is required ({p.description})"
                    )
                out[p.name] = p.default
            else:
                out[p.name] = p.check(fn, value)
        return out


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _article(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


MODEL = Parameter("model", "string", 'LLM model ("provider/model"; default: agents.default_model)')
