"""One `execute` of an agent, as steps the script's thread drives: `start` (hooks, memory
context, the first model request) and `advance` after each reply (tool calls run through the
tool registry with their hooks, results go back to the model, up to the round limit; then the
exchange is remembered and saved). Model requests run on the provider loop in between, so a
workflow can keep several turns in flight and an interrupt cancels the request at once."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from llmspell.runtime.errors import DomainError, InvalidArgument, ScriptStopping, kind_of
from llmspell.runtime.providers.messages import (
    ChatRequest,
    ChatResponse,
    Message,
    ToolCallRequest,
    ToolSpec,
    Usage,
)

if TYPE_CHECKING:
    from llmspell.runtime.agents.agent import Agent
    from llmspell.runtime.agents.services import AgentServices
    from llmspell.runtime.hooks import HookRegistry
    from llmspell.runtime.providers.base import ChatProvider
    from llmspell.runtime.providers.calls import PendingCall

logger = logging.getLogger("llmspell.agents")

# Keys a script's input table may use for the prompt (the reference's `text` and the names
# other APIs use), and the settings it may carry along.
TEXT_KEYS = ("text", "prompt", "input", "message", "content", "query")
INPUT_KEYS = (*TEXT_KEYS, "session_id", "temperature", "max_tokens")
MAX_TOOL_RESULT_CHARS = 100_000
MEMORY_HEADER = "Relevant context from memory:"


@dataclass(frozen=True)
class TurnInput:
    """What one execute asks: the prompt, the conversation (session) it belongs to, and
    per-call overrides of the agent's settings."""

    text: str
    session_id: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None


def parse_input(value: Any, where: str = "execute") -> TurnInput:
    """A plain string, or a table with the prompt under one of TEXT_KEYS (`{text=...}` as the
    reference writes it) and optional `session_id`, `temperature`, `max_tokens`."""
    if isinstance(value, str):
        if not value.strip():
            raise InvalidArgument(f"{where}: the prompt must be a non-empty string")
        return TurnInput(text=value)
    if not isinstance(value, Mapping):
        raise InvalidArgument(
            f"{where}: input must be a string or a table {{text=..., session_id?, "
            f"temperature?, max_tokens?}}, got {kind_of(value)}"
        )
    unknown = sorted(set(value) - set(INPUT_KEYS))
    if unknown:
        raise InvalidArgument(
            f"{where}: unknown input field {unknown[0]!r}; allowed: {', '.join(INPUT_KEYS)}"
        )
    given = [k for k in TEXT_KEYS if value.get(k) is not None]
    if len(given) != 1:
        raise InvalidArgument(
            f"{where}: input needs the prompt in exactly one of {', '.join(TEXT_KEYS)}"
            + (f" (got {', '.join(given)})" if given else "")
        )
    text = value[given[0]]
    if not isinstance(text, str) or not text.strip():
        raise InvalidArgument(f"{where}: {given[0]} must be a non-empty string, got {text!r}")
    session_id = value.get("session_id")
    if session_id is not None and (not isinstance(session_id, str) or not session_id):
        raise InvalidArgument(f"{where}: session_id must be a non-empty string")
    from llmspell.runtime.agents.spec import check_setting

    temperature = value.get("temperature")
    max_tokens = value.get("max_tokens")
    return TurnInput(
        text=text,
        session_id=session_id,
        temperature=None
        if temperature is None
        else check_setting("temperature", temperature, where),
        max_tokens=None if max_tokens is None else check_setting("max_tokens", max_tokens, where),
    )


def workflow_input(value: Any) -> TurnInput:
    """A workflow step's input as a turn: the prompt form when it is one, otherwise the whole
    value as JSON text (a step may hand an agent any table)."""
    if (
        isinstance(value, Mapping)
        and not (set(value) - set(INPUT_KEYS))
        and sum(1 for k in TEXT_KEYS if value.get(k) is not None) == 1
    ):
        return parse_input(value)
    if isinstance(value, str) and value.strip():
        return TurnInput(text=value)
    if value is None or value == {} or value == []:
        raise InvalidArgument("an agent step needs an input (a prompt or a table)")
    return TurnInput(text=json.dumps(value, ensure_ascii=False, sort_keys=True, default=str))


@dataclass
class AgentTurn:
    """One execute of `agent` (see the module's docstring). `result` is set when `advance`
    returns None."""

    agent: Agent
    input: TurnInput
    services: AgentServices
    stream: bool = False
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    result: dict[str, Any] | None = None
    _provider: ChatProvider | None = None
    _request: ChatRequest | None = None
    _pending: PendingCall | None = None
    _new: list[Message] = field(default_factory=list)  # this turn's messages, to keep
    _calls: list[dict[str, Any]] = field(default_factory=list)
    _usage: Usage = field(default_factory=Usage)
    _rounds: int = 0
    _started: float = 0.0
    _context_chunks: int = 0
    _conversation_key: str = ""
    _memory_session: str | None = None

    @property
    def name(self) -> str:
        return self.agent.name

    # --- the steps ------------------------------------------------------------------------------

    def start(self) -> PendingCall:
        """BeforeAgentExecution (may change the prompt or cancel), the memory context, the
        first request."""
        self._started = time.perf_counter()
        services, spec = self.services, self.agent.spec
        self.input = before_execution(services.hooks, self.name, self.input, self.correlation_id)
        try:
            self._provider, model = services.providers.resolve(
                spec.model or services.config.default_model or _no_model(self.name)
            )
            tools = tuple(self._tool_spec(name) for name in spec.tools)
            session = self.input.session_id or services.current_session()
            self._conversation_key = session or ""
            system = spec.system_prompt
            if spec.memory:
                self._memory_session = session or f"agent:{self.name}"
                system = self._with_memory(system)
            messages: list[Message] = [Message("system", system)] if system else []
            messages += self.agent.conversation(self._conversation_key)
            user = Message("user", self.input.text)
            self._new.append(user)
            self._request = ChatRequest(
                model=model,
                messages=(*messages, user),
                tools=tools,
                temperature=_first(self.input.temperature, spec.temperature),
                max_tokens=_first(self.input.max_tokens, spec.max_tokens),
            )
        except ScriptStopping:
            raise
        except Exception as exc:
            self._fail(exc)
            raise
        return self._send()

    def advance(self) -> PendingCall | None:
        """After a reply: run the tools it asks for and send the next request (returned), or
        finish the turn (None; `result` is set)."""
        assert self._pending is not None and self._request is not None
        try:
            assert self._pending.future is not None
            response: ChatResponse = self._pending.future.result()
        except Exception as exc:
            self._fail(exc)
            raise
        self._rounds += 1
        self._usage = self._usage + response.usage
        assistant = Message("assistant", response.text, tool_calls=response.tool_calls)
        self._new.append(assistant)
        if response.tool_calls and self._request.tool_choice != "none":
            results = [self._run_tool(call) for call in response.tool_calls]
            self._new += results
            last_round = self._rounds >= self._max_rounds()
            self._request = replace(
                self._request,
                messages=(*self._request.messages, assistant, *results),
                tool_choice="none" if last_round else "auto",
            )
            return self._send()
        self._finish(response)
        return None

    def cancel(self) -> None:
        """Cancel the request in flight (the run that drives this turn is stopping)."""
        if self._pending is not None:
            self._pending.cancel()

    def _send(self) -> PendingCall:
        assert self._provider is not None and self._request is not None
        self._pending = self.services.providers.start(self._provider, self._request, self.stream)
        return self._pending

    # --- tools ----------------------------------------------------------------------------------

    def _tool_spec(self, name: str) -> ToolSpec:
        tools = self.services.tools
        if not tools.exists(name):
            raise InvalidArgument(
                f"agent {self.name!r} may use tool {name!r}, which does not exist in this "
                "runtime (register it with Tool.register, or rebuild the agent without it)"
            )
        tool = tools.get(name)
        parameters = tool.schema if tool.schema.get("type") == "object" else {"type": "object"}
        return ToolSpec(name=tool.name, description=tool.description, parameters=parameters)

    def _run_tool(self, call: ToolCallRequest) -> Message:
        """Run one requested call; whatever goes wrong goes back to the model as an error
        result (only a stopping script raises)."""
        record: dict[str, Any] = {
            "id": call.id,
            "name": call.name,
            "arguments": call.arguments,
            "round": self._rounds,
        }
        allowed = self.agent.spec.tools
        if call.name not in allowed:
            outcome: dict[str, Any] = {
                "success": False,
                "error": f"tool {call.name!r} is not available to this agent; "
                f"tools: {', '.join(allowed) or 'none'}",
            }
        elif call.invalid_arguments is not None:
            outcome = {
                "success": False,
                "error": "the arguments were not a JSON object: " + call.invalid_arguments[:200],
            }
        else:
            try:
                outcome = self.services.tools.execute(
                    call.name, call.arguments, self.correlation_id
                )
            except ScriptStopping:
                raise
            except DomainError as exc:  # bad parameters, cancelled by a hook
                outcome = {"success": False, "error": str(exc)}
        ok = bool(isinstance(outcome, Mapping) and outcome.get("success"))
        record["success"] = ok
        if ok:
            record["result"] = outcome.get("result")
            content = _json({"result": outcome.get("result")})
        else:
            error = outcome.get("error") if isinstance(outcome, Mapping) else None
            record["error"] = str(error or "the tool reported success = false")
            content = _json({"error": record["error"]})
        self._calls.append(record)
        return Message("tool", content, tool_call_id=call.id, name=call.name, is_error=not ok)

    def _max_rounds(self) -> int:
        spec = self.agent.spec
        return spec.max_tool_rounds or self.services.config.max_tool_rounds

    # --- memory -----------------------------------------------------------------------------------

    def _with_memory(self, system: str) -> str:
        context = self.services.context()
        budget = self.agent.spec.context_window or self.services.config.memory_context_tokens
        assembled = context.assemble(
            self.input.text, "hybrid", min(budget, 100_000), session_id=self._memory_session
        )
        self._context_chunks = len(assembled.chunks)
        if not assembled.chunks:
            return system
        block = f"{MEMORY_HEADER}\n{assembled.formatted}"
        return f"{system}\n\n{block}" if system else block

    def _remember(self, reply: str) -> None:
        if self._memory_session is None:
            return
        episodic = self.services.memory().episodic
        meta = {"agent": self.name, "correlation_id": self.correlation_id}
        episodic.add(self._memory_session, "user", self.input.text, meta)
        if reply:
            episodic.add(self._memory_session, "assistant", reply, meta)

    # --- the end ----------------------------------------------------------------------------------

    def _finish(self, response: ChatResponse) -> None:
        assert self._provider is not None and self._request is not None
        duration_ms = round((time.perf_counter() - self._started) * 1000, 3)
        self._remember(response.text)
        metadata = {
            "agent": self.name,
            "provider": self._provider.name,
            "model": response.model or self._request.model,
            "finish_reason": response.finish_reason,
            "rounds": self._rounds,
            "duration_ms": duration_ms,
            "session_id": self._conversation_key or None,
            "correlation_id": self.correlation_id,
            "context_chunks": self._context_chunks,
        }
        self.agent.record_turn(
            self._conversation_key,
            self._new,
            self._usage,
            {"success": True, "duration_ms": duration_ms, "model": metadata["model"]},
        )
        result = {
            "success": True,
            "text": response.text,
            "tool_calls": self._calls,
            "usage": self._usage.as_dict(),
            "metadata": metadata,
        }
        self.result = self.services.hooks.run(
            "AfterAgentExecution", self.name, result, self.correlation_id
        )

    def _fail(self, exc: BaseException) -> None:
        """AgentError hooks see the failure and the agent notes it; the error itself is
        raised by the caller, so neither may replace it."""
        try:
            self.services.hooks.run(
                "AgentError",
                self.name,
                {"agent": self.name, "input": self.input.text, "error": str(exc)},
                self.correlation_id,
            )
            self.agent.record_failure(
                {
                    "success": False,
                    "error": str(exc),
                    "duration_ms": round((time.perf_counter() - self._started) * 1000, 3),
                }
            )
        except ScriptStopping:
            raise
        except Exception:
            logger.warning("agent %s: recording a failure failed", self.name, exc_info=True)


def before_execution(
    hooks: HookRegistry, agent: str, input_: TurnInput, correlation_id: str
) -> TurnInput:
    """BeforeAgentExecution for one execute: the input as the hooks left it (a `modified`
    `input` replaces the prompt; a cancel raises)."""
    data = hooks.run(
        "BeforeAgentExecution",
        agent,
        {"agent": agent, "input": input_.text, "session_id": input_.session_id},
        correlation_id,
    )
    if isinstance(data, Mapping) and isinstance(data.get("input"), str) and data["input"]:
        return replace(input_, text=data["input"])
    return input_


def run_turn(
    turn: AgentTurn,
    stop_requested: Callable[[], bool],
    on_text: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Drive a turn to its end on this thread; an interrupt cancels the request in flight."""
    pending: PendingCall | None = turn.start()
    while pending is not None:
        pending.wait_done(stop_requested, on_text)
        pending = turn.advance()
    assert turn.result is not None
    return turn.result


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text) > MAX_TOOL_RESULT_CHARS:
        text = text[:MAX_TOOL_RESULT_CHARS] + f"… (cut at {MAX_TOOL_RESULT_CHARS} characters)"
    return text


def _no_model(name: str) -> str:
    raise InvalidArgument(
        f"agent {name!r} has no model: build it with :model('provider/model') or set "
        "agents.default_model in the config"
    )
