"""What an agent is: its settings, checked once when it is built (from a builder, a table or
stored agent state), in the forms the reference system's scripts write them."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from llmspell.runtime.errors import InvalidArgument, kind_of
from llmspell.storage.values import shown

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$")
AGENT_TYPES = ("llm", "composite")
COMPOSITE_STRATEGIES = ("sequential", "parallel", "vote")
# Table keys accepted for each setting (reference spellings beside the spec's).
ALIASES = {
    "tools": ("tools", "allowed_tools"),
    "memory": ("memory", "memory_enabled"),
    "system_prompt": ("system_prompt", "system", "instructions"),
}
SPEC_VERSION = 1


@dataclass(frozen=True)
class AgentSpec:
    """An agent's settings. `model` is "provider/model" (resolved by the provider manager);
    a composite agent has `members` and a `strategy` instead of a model."""

    name: str
    type: str = "llm"
    model: str = ""
    description: str = ""
    system_prompt: str = ""
    temperature: float | None = None
    max_tokens: int | None = None
    tools: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()
    memory: bool = False
    context_window: int | None = None  # token budget for system prompt + context + history
    max_history: int | None = None  # messages kept per conversation (None: config default)
    max_tool_rounds: int | None = None  # None: config default
    members: tuple[str, ...] = ()  # composite
    strategy: str = ""  # composite
    template: str = ""  # the template it was made from, if any

    def as_dict(self) -> dict[str, Any]:
        # every field is a scalar or a tuple of strings: no deep copy needed (asdict's costs
        # a tenth of a millisecond, paid on every save of agent state)
        return {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in ((f, getattr(self, f)) for f in _FIELD_NAMES)
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AgentSpec:
        """From `as_dict` output (stored agent state); unknown keys are ignored only here,
        where an older or newer release may have written them."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("tools", "capabilities", "members"):
            values[key] = tuple(values.get(key) or ())
        return check_spec(cls(**values))

    def info(self) -> dict[str, Any]:
        """The record `Agent.list/get_info` show."""
        provider, _, model = self.model.partition("/")
        return {
            "name": self.name,
            "type": self.type,
            "model": self.model,
            "provider": provider if model else "",
            "description": self.description,
            "tools": list(self.tools),
            "capabilities": list(self.capabilities),
            "memory": self.memory,
        }


_FIELD_NAMES = tuple(f.name for f in fields(AgentSpec))
SETTINGS = set(_FIELD_NAMES) - {"name", "template"}


def spec_from_table(name: str | None, table: Mapping[str, Any], where: str) -> AgentSpec:
    """A spec from a script's table (`Agent.create{...}`, `Agent.register(name, {...})`,
    template overrides): every key must be a known setting or alias."""
    allowed = {alias for aliases in ALIASES.values() for alias in aliases} | SETTINGS
    allowed |= {"name", "provider"}
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise InvalidArgument(
            f"{where}: unknown setting {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}"
        )
    values: dict[str, Any] = {}
    for key, value in table.items():
        canonical = next((k for k, names in ALIASES.items() if key in names), key)
        if canonical in values and value != values[canonical]:
            raise InvalidArgument(f"{where}: {key!r} repeats a setting given under another name")
        values[canonical] = value
    table_name = values.pop("name", None)
    provider = values.pop("provider", None)
    if provider is not None:
        if not isinstance(provider, str) or not provider:
            raise InvalidArgument(
                f"{where}: provider must be a provider's name, got {shown(provider)}"
            )
        model = values.get("model")
        values["model"] = join_model(provider, model if isinstance(model, str) else None)
    if name is not None and table_name is not None and table_name != name:
        raise InvalidArgument(f"{where}: name {table_name!r} differs from {name!r}")
    spec = AgentSpec(name=str(name if name is not None else table_name or ""))
    return apply_settings(spec, values, where)


def join_model(provider: str, model: str | None) -> str:
    """The "provider/model" the reference's separate `provider` and `model` settings mean
    (the provider's default model without a model; a model already under it stays)."""
    if not model:
        return provider
    return model if model.startswith(f"{provider}/") else f"{provider}/{model}"


def apply_settings(spec: AgentSpec, values: Mapping[str, Any], where: str) -> AgentSpec:
    """`spec` with checked `values` (canonical setting names) applied."""
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        changes[key] = check_setting(key, value, where)
    return replace(spec, **changes)


def check_setting(key: str, value: Any, where: str) -> Any:
    """One setting's value, checked (a ValueError names it and what is allowed)."""
    if key in ("model", "description", "system_prompt", "strategy", "type"):
        if not isinstance(value, str):
            raise InvalidArgument(f"{where}: {key} must be a string, got {kind_of(value)}")
        if key == "type" and value not in AGENT_TYPES:
            hint = " (wrap an agent as a tool with Agent.wrap_as_tool)" if value == "tool" else ""
            raise InvalidArgument(
                f"{where}: type must be one of {', '.join(AGENT_TYPES)}, got {value!r}{hint}"
            )
        if key == "strategy" and value not in COMPOSITE_STRATEGIES:
            raise InvalidArgument(
                f"{where}: strategy must be one of {', '.join(COMPOSITE_STRATEGIES)}, got {value!r}"
            )
        return value
    if key == "temperature":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise InvalidArgument(f"{where}: temperature must be a number, got {shown(value)}")
        if not 0 <= value <= 2:
            raise InvalidArgument(f"{where}: temperature must be from 0 to 2, got {value}")
        return float(value)
    if key in ("max_tokens", "context_window", "max_history", "max_tool_rounds"):
        integral = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        low = 0 if key == "max_history" else 1
        if isinstance(value, bool) or not integral or not low <= value <= 10_000_000:
            raise InvalidArgument(
                f"{where}: {key} must be an integer from {low} to 10000000, got {shown(value)}"
            )
        return int(value)
    if key == "memory":
        if not isinstance(value, bool):
            raise InvalidArgument(f"{where}: memory must be true or false, got {kind_of(value)}")
        return value
    if key in ("tools", "capabilities", "members"):
        items = list(value.values()) if isinstance(value, Mapping) and not value else value
        if isinstance(items, str):
            items = [items]
        if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) and i for i in items):
            raise InvalidArgument(f"{where}: {key} must be a list of names, got {value!r}")
        return tuple(dict.fromkeys(items))
    raise InvalidArgument(f"{where}: unknown setting {key!r}")


def check_spec(spec: AgentSpec, where: str = "agent") -> AgentSpec:
    """A complete spec: a valid name, and a model (an llm) or members and a strategy (a
    composite)."""
    if not NAME_PATTERN.match(spec.name):
        raise InvalidArgument(
            f"{where}: name must be 1-128 characters (letters, digits, _ . : -), got {spec.name!r}"
        )
    if spec.type == "composite":
        if not spec.members:
            raise InvalidArgument(
                f"{where}: a composite agent needs its agents: agents = {{names...}} in a "
                "table, :agents{names...} on a builder"
            )
        if not spec.strategy:
            return replace(spec, strategy="sequential")
    return spec
