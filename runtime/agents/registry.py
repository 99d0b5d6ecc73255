"""`AgentRegistry`: the agents of a runtime — defined by scripts, kept in the `agent state`
component so a later runtime finds them — and what is done with them: executing (one agent,
or a composite of several), templates, named contexts, agents as tools."""

from __future__ import annotations

import concurrent.futures
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from llmspell.runtime.agents.agent import Agent
from llmspell.runtime.agents.services import AgentServices
from llmspell.runtime.agents.spec import AgentSpec, check_spec, spec_from_table
from llmspell.runtime.agents.templates import TEMPLATES
from llmspell.runtime.agents.turn import (
    AgentTurn,
    TurnInput,
    before_execution,
    parse_input,
    run_turn,
)
from llmspell.runtime.errors import (
    DomainError,
    Interrupted,
    InvalidArgument,
    NotFound,
    ScriptStopping,
)
from llmspell.runtime.providers.calls import POLL_S
from llmspell.runtime.providers.messages import Message, Usage

if TYPE_CHECKING:
    from llmspell.runtime.infrastructure import Infrastructure
    from llmspell.runtime.providers.calls import PendingCall
    from llmspell.runtime.tools.registry import Tool

BUILTIN_CAPABILITIES = ("chat", "memory", "streaming", "tool_calling")
_VOTE_NOISE = re.compile(r"[\s.!?,;:]+$")


class AgentRegistry:
    """Agents of one runtime (and tenant); see the module's docstring."""

    def __init__(self, services: AgentServices) -> None:
        self.services = services
        self._agents: dict[str, Agent] = {}
        self._contexts: dict[str, tuple[str | None, dict[str, Any]]] = {}
        self._lock = threading.RLock()

    @classmethod
    def from_infrastructure(cls, infra: Infrastructure) -> AgentRegistry:
        from llmspell.runtime.context import ContextAssembler
        from llmspell.runtime.hooks import HookRegistry
        from llmspell.runtime.memory import MemoryManager
        from llmspell.runtime.providers import ProviderManager
        from llmspell.runtime.sessions import SessionManager
        from llmspell.runtime.tools.registry import ToolRegistry

        return cls(
            AgentServices(
                config=infra.config.agents,
                providers=infra.get(ProviderManager),
                tools=infra.get(ToolRegistry),
                hooks=infra.get(HookRegistry),
                memory=lambda: infra.get(MemoryManager),
                context=lambda: infra.get(ContextAssembler),
                current_session=lambda: infra.get(SessionManager).current,
                store=lambda: infra.storage.agent_state,
            )
        )

    # --- defining -------------------------------------------------------------------------------

    def define(self, spec: AgentSpec, where: str = "Agent.builder") -> Agent:
        """Check `spec` (its model names a provider, its tools and members exist) and make it
        the agent of its name, keeping the conversations of an agent defined before."""
        if not spec.name:
            spec = replace(spec, name=f"agent-{uuid.uuid4().hex[:8]}")
        spec = check_spec(spec, where)
        if spec.type == "composite":
            for member in spec.members:
                if member == spec.name:
                    raise InvalidArgument(f"{where}: a composite agent cannot contain itself")
                self.require(member)
        else:
            model = spec.model or self.services.config.default_model
            if not model:
                raise InvalidArgument(
                    f"{where}: agent {spec.name!r} needs a model: :model('provider/model') "
                    f"(providers: {', '.join(self.services.providers.names())}) or "
                    "agents.default_model in the config"
                )
            self.services.providers.resolve(model)
            for name in spec.tools:
                try:
                    tool = self.services.tools.get(name)
                except NotFound as exc:
                    raise NotFound(f"{where}: {exc}") from None
                if tool.disabled is not None:  # a reference tool llmspell does not offer
                    raise InvalidArgument(f"{where}: {tool.disabled}")
        with self._lock:
            agent = self._agents.get(spec.name) or self._load(spec.name)
            if agent is None:
                agent = Agent(spec, self.services.store, max_history=self._history())
            agent.save_spec(spec)
            self._agents[spec.name] = agent
        return agent

    def define_from_table(self, name: str | None, table: Mapping[str, Any], where: str) -> Agent:
        return self.define(spec_from_table(name, table, where), where)

    def from_template(self, template: str, overrides: Mapping[str, Any], where: str) -> Agent:
        settings = TEMPLATES.get(template)
        if settings is None:
            raise NotFound(
                f"no agent template {template!r}; templates: {', '.join(sorted(TEMPLATES))}"
            )
        table = {**settings, **overrides}
        name = table.pop("name", None) or f"{template}-{uuid.uuid4().hex[:6]}"
        return self.define(replace(spec_from_table(name, table, where), template=template), where)

    # --- finding --------------------------------------------------------------------------------

    def get(self, name: str) -> Agent | None:
        """The agent called `name`: this runtime's, or one a runtime stored before."""
        with self._lock:
            agent = self._agents.get(name)
            if agent is None:
                agent = self._load(name)
                if agent is not None:
                    self._agents[name] = agent
            return agent

    def require(self, name: str) -> Agent:
        agent = self.get(name) if isinstance(name, str) else None
        if agent is None:
            known = ", ".join(self.names()) or "none defined yet"
            raise NotFound(f"no agent named {name!r}; agents: {known}")
        return agent

    def names(self) -> list[str]:
        stored = [r.agent_id for r in self.services.store().list()]
        with self._lock:
            return sorted({*stored, *self._agents})

    def all(self) -> list[Agent]:
        """Every agent of the tenant (stored ones are loaded), by name."""
        return [a for a in (self.get(n) for n in self.names()) if a is not None]

    def live(self) -> list[Agent]:
        """Agents this runtime has used, by name."""
        with self._lock:
            return [self._agents[n] for n in sorted(self._agents)]

    def remove(self, name: str) -> bool:
        """Forget an agent and its stored state."""
        with self._lock:
            self._agents.pop(name, None)
        return self.services.store().delete(name)

    def _load(self, name: str) -> Agent | None:
        record = self.services.store().get(name)
        if record is None:
            return None
        spec = AgentSpec.from_dict(record.state.get("spec") or {"name": name})
        return Agent(spec, self.services.store, record, max_history=self._history())

    def _history(self) -> int:
        return self.services.config.max_history_messages

    # --- executing ------------------------------------------------------------------------------

    def turn(self, agent: Agent, input_: TurnInput, stream: bool = False) -> AgentTurn:
        if agent.spec.type == "composite":
            raise InvalidArgument(f"agent {agent.name!r} is a composite; run it with execute")
        return AgentTurn(agent, input_, self.services, stream=stream)

    def execute(
        self,
        agent: Agent,
        input_: TurnInput,
        stop_requested: Callable[[], bool],
        on_text: Callable[[str], None] | None = None,
    ) -> dict[str, Any]:
        """Run one execute of `agent` to its end (streaming text to `on_text` when given)."""
        if agent.spec.type == "composite":
            return self._composite(agent, input_, stop_requested, on_text)
        return run_turn(self.turn(agent, input_, on_text is not None), stop_requested, on_text)

    def _composite(
        self,
        agent: Agent,
        input_: TurnInput,
        stop_requested: Callable[[], bool],
        on_text: Callable[[str], None] | None,
    ) -> dict[str, Any]:
        started = time.perf_counter()
        hooks, spec = self.services.hooks, agent.spec
        correlation_id = str(uuid.uuid4())
        input_ = before_execution(hooks, agent.name, input_, correlation_id)
        members = [self.require(name) for name in spec.members]
        outcomes: list[dict[str, Any] | Exception]
        if spec.strategy == "sequential":
            outcomes, text = [], input_.text
            for member in members:
                result = self.execute(member, replace(input_, text=text), stop_requested, on_text)
                outcomes.append(result)
                text = str(result.get("text", ""))
        else:
            outcomes = self.run_many([(m, input_) for m in members], stop_requested)
        done = [o for o in outcomes if isinstance(o, dict)]
        if not done:
            error = "; ".join(f"{m.name}: {o}" for m, o in zip(members, outcomes, strict=True))
            raise DomainError(f"every agent of composite {agent.name!r} failed: {error}")
        text = self._combine(spec.strategy, members, outcomes)
        usage = Usage()
        for o in done:
            u = o.get("usage") or {}
            usage = usage + Usage(
                int(u.get("prompt_tokens", 0)), int(u.get("completion_tokens", 0))
            )
        duration_ms = round((time.perf_counter() - started) * 1000, 3)
        result = {
            "success": True,
            "text": text,
            "tool_calls": [c for o in done for c in o.get("tool_calls") or []],
            "usage": usage.as_dict(),
            "metadata": {
                "agent": agent.name,
                "strategy": spec.strategy,
                "members": [
                    {"agent": m.name, "success": True, "text": o.get("text", "")}
                    if isinstance(o, dict)
                    else {"agent": m.name, "success": False, "error": str(o)}
                    for m, o in zip(members, outcomes, strict=True)
                ],
                "duration_ms": duration_ms,
                "correlation_id": correlation_id,
            },
        }
        agent.record_turn(
            input_.session_id or "",
            [Message("user", input_.text), Message("assistant", text)],
            usage,
            {"success": True, "duration_ms": duration_ms},
        )
        out: dict[str, Any] = hooks.run("AfterAgentExecution", agent.name, result, correlation_id)
        return out

    def run_many(
        self, jobs: list[tuple[Agent, TurnInput]], stop_requested: Callable[[], bool]
    ) -> list[dict[str, Any] | Exception]:
        """Run several executes at once (their model requests concurrently on the provider
        loop, everything else on this thread); each one's result or error, in order."""
        outcomes: list[dict[str, Any] | Exception] = [RuntimeError("not run")] * len(jobs)
        in_flight: dict[concurrent.futures.Future[Any], tuple[int, AgentTurn, PendingCall]] = {}

        def step(index: int, turn: AgentTurn, pending: PendingCall | None) -> None:
            if pending is None:
                assert turn.result is not None
                outcomes[index] = turn.result
            else:
                assert pending.future is not None
                in_flight[pending.future] = (index, turn, pending)

        try:
            for index, (agent, input_) in enumerate(jobs):
                if agent.spec.type == "composite":
                    try:
                        outcomes[index] = self.execute(agent, input_, stop_requested)
                    except (ScriptStopping, Interrupted):
                        raise
                    except Exception as exc:
                        outcomes[index] = exc
                    continue
                turn = self.turn(agent, input_)
                try:
                    step(index, turn, turn.start())
                except (ScriptStopping, Interrupted):
                    raise
                except Exception as exc:
                    outcomes[index] = exc
            while in_flight:
                if stop_requested():
                    raise Interrupted("interrupted while waiting for the agents")
                done, _ = concurrent.futures.wait(
                    list(in_flight), timeout=POLL_S, return_when=concurrent.futures.FIRST_COMPLETED
                )
                for future in done:
                    index, turn, _pending = in_flight.pop(future)
                    try:
                        step(index, turn, turn.advance())
                    except (ScriptStopping, Interrupted):
                        raise
                    except Exception as exc:
                        outcomes[index] = exc
        finally:
            for _, _, pending in in_flight.values():
                pending.cancel()
        return outcomes

    @staticmethod
    def _combine(
        strategy: str, members: list[Agent], outcomes: list[dict[str, Any] | Exception]
    ) -> str:
        texts = [(m.name, str(o.get("text", ""))) for m, o in zip(members, outcomes, strict=True)
                 if isinstance(o, dict)]  # fmt: skip
        if strategy == "sequential":
            return texts[-1][1]
        if strategy == "parallel":
            return "\n\n".join(f"[{name}] {text}" for name, text in texts)
        votes = Counter(_VOTE_NOISE.sub("", t).casefold() for _, t in texts)
        best = max(votes.values())
        # the first answer (in member order) among those with the most votes
        return next(t for _, t in texts if votes[_VOTE_NOISE.sub("", t).casefold()] == best)

    # --- contexts -------------------------------------------------------------------------------

    def create_context(self, name: str, data: dict[str, Any], parent: str | None = None) -> str:
        with self._lock:
            if name in self._contexts:
                raise InvalidArgument(f"context {name!r} exists; update it with update_context")
            if parent is not None and parent not in self._contexts:
                raise NotFound(self._no_context(parent))
            self._contexts[name] = (parent, dict(data))
        return name

    def context_data(self, name: str) -> dict[str, Any]:
        """A context's data over its parents' (the child's keys win)."""
        with self._lock:
            chain: list[dict[str, Any]] = []
            current: str | None = name
            while current is not None:
                entry = self._contexts.get(current)
                if entry is None:
                    raise NotFound(self._no_context(current))
                chain.append(entry[1])
                current = entry[0]
        merged: dict[str, Any] = {}
        for data in reversed(chain):
            merged.update(data)
        return merged

    def update_context(self, name: str, data: dict[str, Any]) -> None:
        with self._lock:
            entry = self._contexts.get(name)
            if entry is None:
                raise NotFound(self._no_context(name))
            entry[1].update(data)

    def remove_context(self, name: str) -> bool:
        """Remove a context and the contexts made from it."""
        with self._lock:
            if name not in self._contexts:
                return False
            doomed = {name}
            grew = True
            while grew:
                children = {n for n, (p, _) in self._contexts.items() if p in doomed}
                grew = not children <= doomed
                doomed |= children
            for n in doomed:
                del self._contexts[n]
            return True

    def _no_context(self, name: str) -> str:
        known = ", ".join(sorted(self._contexts)) or "none"
        return f"no context named {name!r}; contexts: {known}"

    # --- agents as tools, hierarchy, capabilities -------------------------------------------

    def as_tool(self, name: str, stop_requested: Callable[[], bool]) -> Tool:
        """Register agent `name` as a tool of the same name: `{text}` in, the reply out."""
        from llmspell.runtime.tools.registry import Tool

        agent = self.require(name)
        if self.services.tools.exists(name):
            raise InvalidArgument(f"a tool named {name!r} exists already")

        def run(params: dict[str, Any]) -> str:
            result = self.execute(agent, parse_input(params, name), stop_requested)
            return str(result.get("text", ""))

        schema = {
            "type": "object",
            "properties": {"text": {"type": "string", "description": "the prompt"}},
            "required": ["text"],
            "additionalProperties": False,
        }
        description = agent.spec.description or f"Ask agent {name!r}"
        return self.services.tools.add(
            Tool(
                name=name,
                description=description,
                category="agent",
                schema=schema,
                run=run,
                tags=("agent",),
                builtin=False,
                script_side=True,
            )
        )

    def hierarchy(self, name: str, seen: frozenset[str] = frozenset()) -> dict[str, Any]:
        agent = self.require(name)
        children = [
            self.hierarchy(m, seen | {name}) if m not in seen else {"name": m, "cycle": True}
            for m in agent.spec.members
        ]
        return {"name": name, "type": agent.spec.type, "children": children}

    def capabilities(self) -> list[str]:
        found = set(BUILTIN_CAPABILITIES)
        for agent in self.all():
            found.update(agent.spec.capabilities)
        return sorted(found)

    def close(self) -> None:
        with self._lock:
            self._agents.clear()
