"""The script-facing agent objects: an agent (`execute`, `invokeStream`, `prompt`, state and
history) and the builder (`Agent.builder():name(...):model(...):build()`)."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from llmspell.runtime.api.arguments import ensure_data, require_str, require_table, type_name
from llmspell.runtime.api.base import ApiContext, ApiError, ApiObject, ValidationError
from llmspell.runtime.times import format_optional_time, format_time

if TYPE_CHECKING:
    from llmspell.runtime.agents import Agent, AgentRegistry, AgentSpec


def agent_registry(ctx: ApiContext) -> AgentRegistry:
    from llmspell.runtime.agents import AgentRegistry

    return ctx.infrastructure.get(AgentRegistry)


def agent_record(ctx: ApiContext, agent: Agent) -> dict[str, Any]:
    return {
        **agent.spec.info(),
        "provider": provider_of(ctx, agent.spec),
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
        return agent_registry(self._ctx).execute(self.agent, turn, self._ctx.stop_requested)

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

        result = agent_registry(self._ctx).execute(
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
        return agent_info(self._ctx, self.agent)

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
        return self._set("tools", "tools", [*self._spec.tools, *(agent_names("tools", names))])

    def capability(self, name: str) -> AgentBuilder:
        """A capability label (`Agent.discover_by_capability` finds agents by it)."""
        return self._add("capability", "capabilities", name)

    def agents(self, names: Any) -> AgentBuilder:
        """The agents a composite agent (`:type("composite")`) runs, in order."""
        return self._set("agents", "members", agent_names("agents", names))

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
        agent = agent_registry(self._ctx).define(self._spec, "AgentBuilder.build")
        return AgentObject(self._ctx, agent)


def provider_of(ctx: ApiContext, spec: AgentSpec) -> str:
    """The name of the provider the agent's model runs on, as a turn would pick it (a bare
    `"mock"` or a model the only configured provider serves); "" when none is found."""
    from llmspell.runtime.errors import InvalidArgument, NotFound
    from llmspell.runtime.providers import ProviderManager

    if not spec.model:
        return ""
    try:
        return ctx.infrastructure.get(ProviderManager).choose(spec.model)[0]
    except (InvalidArgument, NotFound):
        return str(spec.info()["provider"])


def agent_info(ctx: ApiContext, agent: Agent) -> dict[str, Any]:
    spec: AgentSpec = agent.spec
    return {
        **spec.info(),
        "provider": provider_of(ctx, spec),
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


def agent_names(what: str, value: Any) -> builtins.list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict) and not value:
        return []
    if not isinstance(value, builtins.list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(f"{what} must be a list of names, got {type_name(value)}")
    return value
