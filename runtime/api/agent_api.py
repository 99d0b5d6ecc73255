"""`Agent`: LLM-backed agents — built with a builder or a table, kept in agent state, executed
with tools, memory and streaming; plus the reference system's helpers (templates, named
contexts, shared memory, composites, agents as tools)."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from llmspell.runtime.agents import rendering  # noqa: F401 - registers the notebook view
from llmspell.runtime.api.base import (
    ApiContext,
    ApiError,
    ApiNamespace,
    ApiObject,
    ValidationError,
    ensure_data,
    require_str,
    require_table,
    type_name,
)
from llmspell.runtime.display import Records
from llmspell.runtime.times import format_optional_time, format_time

if TYPE_CHECKING:
    from llmspell.runtime.agents import Agent, AgentRegistry, AgentSpec

AGENT_COLUMNS = ["name", "type", "model", "provider", "description", "tools", "capabilities",
                 "memory", "calls", "updated_at"]  # fmt: skip
SHARED_SCOPE = "agent_shared"


def _registry(ctx: ApiContext) -> AgentRegistry:
    from llmspell.runtime.agents import AgentRegistry

    return ctx.infrastructure.get(AgentRegistry)


def _record(agent: Agent) -> dict[str, Any]:
    return {
        **agent.spec.info(),
        "calls": agent.usage["calls"],
        "updated_at": format_time(agent.updated_at),
    }


class AgentObject(ApiObject):
    """An agent: `agent:execute{text=...}`, `agent:invokeStream(input, fn)` and the rest."""

    api_name = "Agent"

    def __init__(self, ctx: ApiContext, agent: Agent) -> None:
        self._ctx = ctx
        self.agent = agent

    @property
    def agent_name(self) -> str:
        """The agent's name (a workflow step may name an agent by its object)."""
        return self.agent.name

    def __repr__(self) -> str:
        spec = self.agent.spec
        what = spec.model or f"{spec.strategy} of {', '.join(spec.members)}"
        return f"<Agent {spec.name} ({what})>"

    def execute(self, input: Any) -> dict[str, Any]:
        """Ask the agent: `input` is a string or `{text=..., session_id?, temperature?,
        max_tokens?}` (`prompt`, `input`, `message`, `content` or `query` may stand for
        `text`). Returns `{success, text, tool_calls, usage={prompt_tokens,
        completion_tokens, total_tokens}, metadata}`. Tool calls the model asks for run
        through `Tool` (hooks fire; a failure goes back to the model as the call's result)
        for up to `agents.max_tool_rounds` rounds. The conversation of the session (or of no
        session) is kept in agent state and sent with the next call; with `memory(true)` the
        prompt gets `Context.assemble` output and the exchange goes to episodic memory."""
        from llmspell.runtime.agents import parse_input

        turn = parse_input(input, "Agent.execute")
        return _registry(self._ctx).execute(self.agent, turn, self._ctx.stop_requested)

    def prompt(self, text: str) -> str:
        """Ask the agent and return only its reply text (`agent:execute(text).text`), as the
        reference's context pattern uses it: `Agent.create("openai/gpt-4o"):prompt(p)`."""
        text = require_str("Agent.prompt", "text", text)
        reply: str = self.execute(text)["text"]
        return reply

    def invokeStream(self, input: Any, options: Any = None, callback: Any = None) -> dict[str, Any]:
        """Like `execute`, streaming the reply: `fn(text)` is called with each piece as it
        arrives (`agent:invokeStream(input, fn)` or the reference's
        `agent:invokeStream(prompt, options, fn)`, options being `{session_id?, temperature?,
        max_tokens?}`). Without a function the pieces are printed as they arrive. Returns the
        same table as `execute`."""
        from llmspell.runtime.agents import parse_input

        if callback is None and callable(options):
            options, callback = None, options
        if callback is not None and not callable(callback):
            raise ValidationError(
                f"Agent.invokeStream: callback must be a function, got {type_name(callback)}"
            )
        extra = require_table("Agent.invokeStream", "options", options)
        if extra:
            input = {"text": input, **extra} if isinstance(input, str) else {**input, **extra}
        turn = parse_input(input, "Agent.invokeStream")
        sink = self._ctx.sink
        printed: list[str] = []

        def print_piece(text: str) -> None:
            printed.append(text)
            sink.stdout(text)

        result = _registry(self._ctx).execute(
            self.agent, turn, self._ctx.stop_requested, callback or print_piece
        )
        if printed and not printed[-1].endswith("\n"):
            sink.stdout("\n")
        return result

    def execute_async(self, input: Any, callback: Any = None) -> dict[str, Any] | None:
        """Run `execute(input)` and call `callback(result, nil)`, or `callback(nil, error)` when
        it fails (the call completes before this returns: a script runs on one thread).
        Returns the result (nil on failure)."""
        if callback is not None and not callable(callback):
            raise ValidationError(
                f"Agent.execute_async: callback must be a function, got {type_name(callback)}"
            )
        try:
            result = AgentObject.execute(self, input)
        except ApiError as exc:  # what execute raises for a failed call, named already
            if callback is None:
                raise
            callback(None, str(exc))
            return None
        if callback is not None:
            callback(result, None)
        return result

    def get_state(self) -> dict[str, Any]:
        """The table last given to `set_state` (empty at first), kept in agent state."""
        return dict(self.agent.data)

    def set_state(self, state: Any) -> bool:
        """Replace the agent's own data (any table of plain data); it is saved at once."""
        table = require_table("Agent.set_state", "state", state)
        self.agent.set_data(ensure_data("Agent.set_state", "state", table))
        return True

    def info(self) -> dict[str, Any]:
        """What `Agent.get_info(name)` returns for this agent."""
        return _info(self.agent)

    def history(self, session_id: str | None = None) -> list[dict[str, Any]]:
        """The kept messages of the conversation of `session_id` (nil: the one without a
        session), oldest first: `{role, content, tool_calls?, tool_call_id?, name?}`."""
        key = "" if session_id is None else require_str("Agent.history", "session_id", session_id)
        return [m.as_dict() for m in self.agent.conversation(key)]

    def reset(self, session_id: str | None = None) -> int:
        """Forget the conversation of `session_id` (nil: every conversation); how many messages
        went. Episodic memory is not touched (`Memory.episodic.forget` is)."""
        if session_id is not None:
            session_id = require_str("Agent.reset", "session_id", session_id)
        return self.agent.reset(session_id)


class AgentBuilder(ApiObject):
    """`Agent.builder():name(s):model("provider/model"):system_prompt(s):build()`."""

    api_name = "AgentBuilder"

    def __init__(self, ctx: ApiContext) -> None:
        from llmspell.runtime.agents import AgentSpec

        self._ctx = ctx
        self._spec: AgentSpec = AgentSpec(name="")
        self._provider = ""
        self._model = ""

    def _set(self, method: str, key: str, value: Any) -> AgentBuilder:
        from llmspell.runtime.agents.spec import apply_settings

        self._spec = apply_settings(self._spec, {key: value}, f"AgentBuilder.{method}")
        return self

    def _add(self, method: str, key: str, value: Any) -> AgentBuilder:
        name = require_str(f"AgentBuilder.{method}", key, value)
        current: tuple[str, ...] = getattr(self._spec, key)
        return self._set(method, key, [*current, name])

    def name(self, name: str) -> AgentBuilder:
        """The agent's name (how `Agent.get` and workflow steps find it)."""
        from dataclasses import replace

        self._spec = replace(self._spec, name=require_str("AgentBuilder.name", "name", name))
        return self

    def type(self, kind: str) -> AgentBuilder:
        """ "llm" (the default)."""
        return self._set("type", "type", kind)

    def description(self, text: str) -> AgentBuilder:
        """What the agent is for (shown in lists, and to models when it is a tool)."""
        return self._set("description", "description", text)

    def model(self, model: str) -> AgentBuilder:
        """ "provider/model" (e.g. "openai/gpt-4o-mini", "mock/demo"), or a provider's name for
        its default model."""
        self._model = require_str("AgentBuilder.model", "model", model)
        return self._set("model", "model", self._joined_model())

    def provider(self, name: str) -> AgentBuilder:
        """The provider, when `model` names only the model: `:provider("openai"):model("x")`
        and `:model("x"):provider("openai")` are `:model("openai/x")`."""
        self._provider = require_str("AgentBuilder.provider", "name", name)
        return self._set("provider", "model", self._joined_model())

    def _joined_model(self) -> str:
        from llmspell.runtime.agents.spec import join_model

        return join_model(self._provider, self._model) if self._provider else self._model

    def system_prompt(self, text: str) -> AgentBuilder:
        """The system prompt."""
        return self._set("system_prompt", "system_prompt", text)

    def temperature(self, value: float) -> AgentBuilder:
        """Sampling temperature, 0 to 2."""
        return self._set("temperature", "temperature", value)

    def max_tokens(self, n: int) -> AgentBuilder:
        """The most tokens a reply may have."""
        return self._set("max_tokens", "max_tokens", n)

    def allow_tool(self, name: str) -> AgentBuilder:
        """Let the model call tool `name` (a built-in or a `Tool.register`ed one)."""
        return self._add("allow_tool", "tools", name)

    def tool(self, name: str) -> AgentBuilder:
        """The same as `allow_tool` (the reference's name)."""
        return self._add("tool", "tools", name)

    def tools(self, names: Any) -> AgentBuilder:
        """Allow every tool of a list."""
        return self._set("tools", "tools", [*self._spec.tools, *(_names("tools", names))])

    def capability(self, name: str) -> AgentBuilder:
        """A capability label (`Agent.discover_by_capability` finds agents by it)."""
        return self._add("capability", "capabilities", name)

    def agents(self, names: Any) -> AgentBuilder:
        """The agents a composite agent (`:type("composite")`) runs, in order."""
        return self._set("agents", "members", _names("agents", names))

    def strategy(self, name: str) -> AgentBuilder:
        """How a composite agent runs its agents: "sequential" (the default), "parallel" or
        "vote" (as in `Agent.create_composite`)."""
        return self._set("strategy", "strategy", name)

    def memory(self, enabled: bool = True) -> AgentBuilder:
        """With true, each call gets `Context.assemble` output for its prompt and the exchange
        is stored in episodic memory of its session."""
        return self._set("memory", "memory", enabled)

    def memory_enabled(self, enabled: bool = True) -> AgentBuilder:
        """The same as `memory` (the reference's name)."""
        return self._set("memory_enabled", "memory", enabled)

    def context_window(self, tokens: int) -> AgentBuilder:
        """The token budget of the memory context added with `memory(true)`."""
        return self._set("context_window", "context_window", tokens)

    def max_history(self, messages: int) -> AgentBuilder:
        """How many messages of a conversation are kept and re-sent (0: none, every call
        stands alone); default `agents.max_history_messages`."""
        return self._set("max_history", "max_history", messages)

    def max_tool_rounds(self, rounds: int) -> AgentBuilder:
        """How many model → tools → model rounds a call may take; default
        `agents.max_tool_rounds`."""
        return self._set("max_tool_rounds", "max_tool_rounds", rounds)

    def build(self) -> AgentObject:
        """Check the settings (the provider exists, the tools exist) and make the agent; an
        agent of the same name keeps its conversations and takes the new settings."""
        agent = _registry(self._ctx).define(self._spec, "AgentBuilder.build")
        return AgentObject(self._ctx, agent)


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
        agent = _registry(self._ctx).define_from_table(None, table, "Agent.create")
        return AgentObject(self._ctx, agent)

    def register(self, name: str, config: Any) -> AgentObject:
        """Make (or redefine) agent `name` from a table of settings, as `create` does."""
        name = require_str("Agent.register", "name", name)
        table = require_table("Agent.register", "config", config)
        return AgentObject(
            self._ctx, _registry(self._ctx).define_from_table(name, table, "Agent.register")
        )

    def get(self, name: str) -> AgentObject | None:
        """The agent called `name` (made in this runtime or kept from an earlier one), or nil."""
        agent = _registry(self._ctx).get(require_str("Agent.get", "name", name))
        return None if agent is None else AgentObject(self._ctx, agent)

    def list(self) -> builtins.list[dict[str, Any]]:
        """Every agent of the tenant: `{name, type, model, provider, description, tools,
        capabilities, memory, calls, updated_at}`, by name."""
        return Records([_record(a) for a in _registry(self._ctx).all()], AGENT_COLUMNS)

    def discover(self) -> builtins.list[dict[str, Any]]:
        """The same as `list()` (the reference's name)."""
        return AgentApi.list(self)

    def discover_by_capability(self, capability: str) -> builtins.list[dict[str, Any]]:
        """Agents that have `capability`, as in `list()`."""
        wanted = require_str("Agent.discover_by_capability", "capability", capability)
        agents = [a for a in _registry(self._ctx).all() if wanted in a.spec.capabilities]
        return Records([_record(a) for a in agents], AGENT_COLUMNS)

    def remove(self, name: str) -> bool:
        """Forget agent `name` and its kept state (conversations, data); true if it existed."""
        return _registry(self._ctx).remove(require_str("Agent.remove", "name", name))

    def get_info(self, name: str) -> dict[str, Any] | None:
        """`{name, type, model, provider, description, system_prompt, temperature,
        max_tokens, tools, capabilities, memory, context_window, members, strategy, template,
        created_at, updated_at}` of agent `name`, or nil."""
        agent = _registry(self._ctx).get(require_str("Agent.get_info", "name", name))
        return None if agent is None else _info(agent)

    def get_details(self, name: str) -> dict[str, Any] | None:
        """`get_info` plus what is kept for the agent: `{state_version, conversations,
        messages, usage={calls, prompt_tokens, completion_tokens}, last_run}`; nil if none."""
        agent = _registry(self._ctx).get(require_str("Agent.get_details", "name", name))
        if agent is None:
            return None
        return {
            **_info(agent),
            "state_version": agent.version,
            "conversations": len(agent.conversations),
            "messages": agent.message_count(),
            "usage": dict(agent.usage),
            "last_run": agent.last_run,
        }

    def list_capabilities(self) -> builtins.list[str]:
        """Capabilities agents have here: the built-in ones (chat, memory, streaming,
        tool_calling) and every label agents were given."""
        return _registry(self._ctx).capabilities()

    def list_instances(self) -> builtins.list[dict[str, Any]]:
        """Agents this runtime has made or used, as in `list()`."""
        return Records([_record(a) for a in _registry(self._ctx).live()], AGENT_COLUMNS)

    def get_hierarchy(self, name: str) -> dict[str, Any]:
        """`{name, type, children}`: a composite agent's members, recursively."""
        return _registry(self._ctx).hierarchy(require_str("Agent.get_hierarchy", "name", name))

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
        agent = _registry(self._ctx).from_template(template, table, "Agent.create_from_template")
        return AgentObject(self._ctx, agent)

    def create_composite(self, config: Any) -> AgentObject:
        """An agent that runs other agents: `{name, agents={names...}, strategy=
        "sequential"|"parallel"|"vote", description?}`. Sequential passes each reply on as
        the next prompt; parallel asks all at once and joins the replies; vote asks all and
        returns the most common reply (the first of equals)."""
        table = dict(require_table("Agent.create_composite", "config", config))
        members = table.pop("agents", None)
        if members is not None:
            table["members"] = _names("agents", members)
        table["type"] = "composite"
        agent = _registry(self._ctx).define_from_table(None, table, "Agent.create_composite")
        return AgentObject(self._ctx, agent)

    def wrap_as_tool(self, name: str) -> str:
        """Make agent `name` a tool of the same name (`{text}` in, its reply as `result`), so
        other agents can call it; returns the tool's name."""
        name = require_str("Agent.wrap_as_tool", "name", name)
        return _registry(self._ctx).as_tool(name, self._ctx.stop_requested).name

    def create_context(self, name: str, data: Any = None) -> str:
        """A named table of data for agents and scripts to share in this runtime; returns the
        name."""
        name = require_str("Agent.create_context", "name", name)
        table = require_table("Agent.create_context", "data", data)
        table = ensure_data("Agent.create_context", "data", table)
        return _registry(self._ctx).create_context(name, table)

    def create_child_context(self, parent: str, name: str, data: Any = None) -> str:
        """A context that inherits `parent`'s data (its own keys win)."""
        parent = require_str("Agent.create_child_context", "parent", parent)
        name = require_str("Agent.create_child_context", "name", name)
        table = require_table("Agent.create_child_context", "data", data)
        table = ensure_data("Agent.create_child_context", "data", table)
        return _registry(self._ctx).create_context(name, table, parent)

    def get_context_data(self, name: str) -> dict[str, Any]:
        """A context's data, merged over its parents'."""
        name = require_str("Agent.get_context_data", "name", name)
        return _registry(self._ctx).context_data(name)

    def update_context(self, name: str, data: Any) -> bool:
        """Merge `data` into a context."""
        name = require_str("Agent.update_context", "name", name)
        table = require_table("Agent.update_context", "data", data)
        table = ensure_data("Agent.update_context", "data", table)
        _registry(self._ctx).update_context(name, table)
        return True

    def remove_context(self, name: str) -> bool:
        """Remove a context (and contexts made from it); true if it existed."""
        return _registry(self._ctx).remove_context(
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


def _info(agent: Agent) -> dict[str, Any]:
    spec: AgentSpec = agent.spec
    return {
        **spec.info(),
        "system_prompt": spec.system_prompt,
        "temperature": spec.temperature,
        "max_tokens": spec.max_tokens,
        "context_window": spec.context_window,
        "max_history": agent.max_history,
        "members": list(spec.members),
        "strategy": spec.strategy or None,
        "template": spec.template or None,
        "created_at": format_optional_time(agent.created_at),
        "updated_at": format_time(agent.updated_at),
    }


def _names(what: str, value: Any) -> builtins.list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict) and not value:
        return []
    if not isinstance(value, builtins.list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(f"{what} must be a list of names, got {type_name(value)}")
    return value
