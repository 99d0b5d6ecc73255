"""`Agent`: LLM-backed agents — built with a builder or a table, kept in agent state, executed
with tools, memory and streaming; plus the reference system's helpers (templates, named
contexts, shared memory, composites, agents as tools)."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from llmspell.runtime.agents import rendering  # noqa: F401 - registers the notebook view
from llmspell.runtime.api.agent_objects import (
    AgentBuilder,
    AgentObject,
    agent_info,
    agent_names,
    agent_record,
    agent_registry,
)
from llmspell.runtime.api.arguments import ensure_data, require_str, require_table
from llmspell.runtime.api.base import ApiNamespace
from llmspell.runtime.display import Records

if TYPE_CHECKING:
    pass

AGENT_COLUMNS = ["name", "type", "model", "provider", "description", "tools", "capabilities",
                 "memory", "calls", "updated_at"]  # fmt: skip
SHARED_SCOPE = "agent_shared"


class AgentApi(ApiNamespace):
    """LLM-backed agents. Build one with `Agent.builder()` (or `Agent.create{...}`), then
    `agent:execute{text=...}` or `agent:invokeStream(text, fn)`. Agents and their
    conversations are kept in agent state: `Agent.get(name)` finds them in a later runtime."""

    api_name = "Agent"

    def builder(self) -> AgentBuilder:
        """A builder: `:name(s):model("provider/model"):system_prompt(s):temperature(f)
        :max_tokens(n):allow_tool(name):memory(true):build()`."""
        return AgentBuilder(self._ctx)

    def create(self, config: Any) -> AgentObject:
        """Make an agent from a table: `{name?, model, provider?, system_prompt?, temperature?,
        max_tokens?, tools?, capabilities?, memory?, description?, context_window?,
        max_history?, max_tool_rounds?}` (the builder's settings; `provider = "openai", model =
        "gpt-4o"` is `model = "openai/gpt-4o"`), or from a model alone:
        `Agent.create("openai/gpt-4o")`."""
        if isinstance(config, str):
            config = {"model": config}
        table = require_table("Agent.create", "config", config)
        agent = agent_registry(self._ctx).define_from_table(None, table, "Agent.create")
        return AgentObject(self._ctx, agent)

    def register(self, name: str, config: Any) -> AgentObject:
        """Make (or redefine) agent `name` from a table of settings, as `create` does."""
        name = require_str("Agent.register", "name", name)
        table = require_table("Agent.register", "config", config)
        return AgentObject(
            self._ctx, agent_registry(self._ctx).define_from_table(name, table, "Agent.register")
        )

    def get(self, name: str) -> AgentObject | None:
        """The agent called `name` (made in this runtime or kept from an earlier one), or nil."""
        agent = agent_registry(self._ctx).get(require_str("Agent.get", "name", name))
        return None if agent is None else AgentObject(self._ctx, agent)

    def list(self) -> builtins.list[dict[str, Any]]:
        """Every agent of the tenant: `{name, type, model, provider, description, tools,
        capabilities, memory, calls, updated_at}`, by name."""
        return Records(
            [agent_record(self._ctx, a) for a in agent_registry(self._ctx).all()], AGENT_COLUMNS
        )

    def discover(self) -> builtins.list[dict[str, Any]]:
        """The same as `list()` (the reference's name)."""
        return AgentApi.list(self)

    def discover_by_capability(self, capability: str) -> builtins.list[dict[str, Any]]:
        """Agents that have `capability`, as in `list()`."""
        wanted = require_str("Agent.discover_by_capability", "capability", capability)
        agents = [a for a in agent_registry(self._ctx).all() if wanted in a.spec.capabilities]
        return Records([agent_record(self._ctx, a) for a in agents], AGENT_COLUMNS)

    def remove(self, name: str) -> bool:
        """Forget agent `name` and its kept state (conversations, data); true if it existed."""
        return agent_registry(self._ctx).remove(require_str("Agent.remove", "name", name))

    def get_info(self, name: str) -> dict[str, Any] | None:
        """`{name, type, model, provider, description, system_prompt, temperature,
        max_tokens, tools, capabilities, memory, context_window, members, strategy, template,
        created_at, updated_at}` of agent `name`, or nil."""
        agent = agent_registry(self._ctx).get(require_str("Agent.get_info", "name", name))
        return None if agent is None else agent_info(self._ctx, agent)

    def get_details(self, name: str) -> dict[str, Any] | None:
        """`get_info` plus what is kept for the agent: `{state_version, conversations,
        messages, usage={calls, prompt_tokens, completion_tokens}, last_run}`; nil if none."""
        agent = agent_registry(self._ctx).get(require_str("Agent.get_details", "name", name))
        if agent is None:
            return None
        return {
            **agent_info(self._ctx, agent),
            "state_version": agent.version,
            "conversations": len(agent.conversations),
            "messages": agent.message_count(),
            "usage": dict(agent.usage),
            "last_run": agent.last_run,
        }

    def list_capabilities(self) -> builtins.list[str]:
        """Capabilities agents have here: the built-in ones (chat, memory, streaming,
        tool_calling) and every label agents were given."""
        return agent_registry(self._ctx).capabilities()

    def list_instances(self) -> builtins.list[dict[str, Any]]:
        """Agents this runtime has made or used, as in `list()`."""
        return Records(
            [agent_record(self._ctx, a) for a in agent_registry(self._ctx).live()], AGENT_COLUMNS
        )

    def get_hierarchy(self, name: str) -> dict[str, Any]:
        """`{name, type, children}`: a composite agent's members, recursively."""
        return agent_registry(self._ctx).hierarchy(require_str("Agent.get_hierarchy", "name", name))

    def list_templates(self) -> builtins.list[dict[str, Any]]:
        """The built-in templates: `{name, description, system_prompt, capabilities, tools}`."""
        from llmspell.runtime.agents.templates import TEMPLATES

        rows = [
            {
                "name": name,
                "description": t["description"],
                "system_prompt": t["system_prompt"],
                "capabilities": t.get("capabilities", []),
                "tools": t.get("tools", []),
            }
            for name, t in sorted(TEMPLATES.items())
        ]
        return Records(rows, ["name", "description", "capabilities", "tools", "system_prompt"])

    def create_from_template(self, template: str, overrides: Any = None) -> AgentObject:
        """An agent from a template with `overrides` (any `create` setting; `model` is needed
        unless `agents.default_model` is set; `name` defaults to "<template>-<id>")."""
        template = require_str("Agent.create_from_template", "template", template)
        table = require_table("Agent.create_from_template", "overrides", overrides)
        agent = agent_registry(self._ctx).from_template(
            template, table, "Agent.create_from_template"
        )
        return AgentObject(self._ctx, agent)

    def create_composite(self, config: Any) -> AgentObject:
        """An agent that runs other agents: `{name, agents={names...}, strategy=
        "sequential"|"parallel"|"vote", description?}`. Sequential passes each reply on as
        the next prompt; parallel asks all at once and joins the replies; vote asks all and
        returns the most common reply (the first of equals)."""
        table = dict(require_table("Agent.create_composite", "config", config))
        members = table.pop("agents", None)
        if members is not None:
            table["members"] = agent_names("agents", members)
        table["type"] = "composite"
        agent = agent_registry(self._ctx).define_from_table(None, table, "Agent.create_composite")
        return AgentObject(self._ctx, agent)

    def wrap_as_tool(self, name: str) -> str:
        """Make agent `name` a tool of the same name (`{text}` in, its reply as `result`), so
        other agents can call it; returns the tool's name."""
        name = require_str("Agent.wrap_as_tool", "name", name)
        return agent_registry(self._ctx).as_tool(name, self._ctx.stop_requested).name

    def create_context(self, name: str, data: Any = None) -> str:
        """A named table of data for agents and scripts to share in this runtime; returns the
        name."""
        name = require_str("Agent.create_context", "name", name)
        table = require_table("Agent.create_context", "data", data)
        table = ensure_data("Agent.create_context", "data", table)
        return agent_registry(self._ctx).create_context(name, table)

    def create_child_context(self, parent: str, name: str, data: Any = None) -> str:
        """A context that inherits `parent`'s data (its own keys win)."""
        parent = require_str("Agent.create_child_context", "parent", parent)
        name = require_str("Agent.create_child_context", "name", name)
        table = require_table("Agent.create_child_context", "data", data)
        table = ensure_data("Agent.create_child_context", "data", table)
        return agent_registry(self._ctx).create_context(name, table, parent)

    def get_context_data(self, name: str) -> dict[str, Any]:
        """A context's data, merged over its parents'."""
        name = require_str("Agent.get_context_data", "name", name)
        return agent_registry(self._ctx).context_data(name)

    def update_context(self, name: str, data: Any) -> bool:
        """Merge `data` into a context."""
        name = require_str("Agent.update_context", "name", name)
        table = require_table("Agent.update_context", "data", data)
        table = ensure_data("Agent.update_context", "data", table)
        agent_registry(self._ctx).update_context(name, table)
        return True

    def remove_context(self, name: str) -> bool:
        """Remove a context (and contexts made from it); true if it existed."""
        return agent_registry(self._ctx).remove_context(
            require_str("Agent.remove_context", "name", name)
        )

    def set_shared_memory(self, key: str, value: Any) -> bool:
        """Keep a value every agent and script of the tenant can read
        (`State` scope "agent_shared")."""
        from llmspell.runtime.state import StateManager

        key = require_str("Agent.set_shared_memory", "key", key)
        value = ensure_data("Agent.set_shared_memory", "value", value)
        self._ctx.infrastructure.get(StateManager).save(SHARED_SCOPE, key, value)
        return True

    def get_shared_memory(self, key: str) -> Any:
        """A value kept with `set_shared_memory`, or nil."""
        from llmspell.runtime.state import StateManager

        key = require_str("Agent.get_shared_memory", "key", key)
        return self._ctx.infrastructure.get(StateManager).load(SHARED_SCOPE, key)
