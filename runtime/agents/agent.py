"""A live agent: its settings and the state kept for it in the `agent state` component —
its conversations (one per session), token usage, the data scripts set, its last run — saved
after every change with the version the store hands out, so two runtimes using one agent
never overwrite each other's turns."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from llmspell.runtime.agents.spec import AgentSpec
from llmspell.runtime.providers.messages import Message, Usage

if TYPE_CHECKING:
    from llmspell.storage.components.agent_state import AgentStateRecord, AgentStateStore

SCHEMA_VERSION = 1
MAX_CONVERSATIONS = 100  # per agent; the least recently used go first
SAVE_ATTEMPTS = 5


class AgentStateChurn(RuntimeError):
    """Other runtimes kept saving the agent's state: every attempt of a save met a newer
    version."""


class Agent:
    """An agent of this runtime. `conversation(key)` is the history sent with each turn;
    `record_turn` appends a finished turn and saves."""

    def __init__(
        self,
        spec: AgentSpec,
        store: Callable[[], AgentStateStore],
        record: AgentStateRecord | None = None,
        max_history: int = 20,
    ) -> None:
        self.spec = spec
        self._store = store
        self._default_history = max_history
        self._lock = threading.Lock()
        self.version = 0
        self.conversations: dict[str, list[dict[str, Any]]] = {}
        self.usage: dict[str, int] = {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0}
        self.data: dict[str, Any] = {}
        self.last_run: dict[str, Any] | None = None
        self.created_at = datetime.now(UTC)
        self.updated_at = self.created_at
        if record is not None:
            self._adopt(record)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def max_history(self) -> int:
        return self._default_history if self.spec.max_history is None else self.spec.max_history

    # --- reading ----------------------------------------------------------------------------------

    def conversation(self, key: str) -> list[Message]:
        """The kept messages of conversation `key` ("" when no session), oldest first."""
        with self._lock:
            return [Message.from_dict(m) for m in self.conversations.get(key, ())]

    def message_count(self) -> int:
        with self._lock:
            return sum(len(m) for m in self.conversations.values())

    # --- changing ---------------------------------------------------------------------------------

    def save_spec(self, spec: AgentSpec) -> None:
        """New settings; conversations, usage and data are kept."""
        self.spec = spec
        self._save(lambda: None)

    def record_turn(
        self, key: str, messages: Iterable[Message], usage: Usage, run: dict[str, Any]
    ) -> None:
        """Append a turn's messages to conversation `key` (trimmed to `max_history`), add its
        usage, note the run, and save."""
        new = [m.as_dict() for m in messages]

        def apply() -> None:
            if self.max_history > 0:
                kept = self.conversations.pop(key, []) + new  # re-inserted: most recent last
                self.conversations[key] = _trimmed(kept, self.max_history)
                while len(self.conversations) > MAX_CONVERSATIONS:
                    del self.conversations[next(iter(self.conversations))]
            self.usage["calls"] += 1
            self.usage["prompt_tokens"] += usage.prompt_tokens
            self.usage["completion_tokens"] += usage.completion_tokens
            self.last_run = run

        self._save(apply)

    def record_failure(self, run: dict[str, Any]) -> None:
        def apply() -> None:
            self.last_run = run

        self._save(apply)

    def set_data(self, data: dict[str, Any]) -> None:
        def apply() -> None:
            self.data = data

        self._save(apply)

    def reset(self, key: str | None = None) -> int:
        """Forget conversation `key` (every conversation when None); how many messages went."""
        dropped = 0

        def apply() -> None:
            nonlocal dropped
            if key is None:
                dropped = sum(len(m) for m in self.conversations.values())
                self.conversations = {}
            else:
                dropped = len(self.conversations.pop(key, []))

        self._save(apply)
        return dropped

    # --- storage ----------------------------------------------------------------------------------

    def document(self) -> dict[str, Any]:
        return {
            "spec": self.spec.as_dict(),
            "conversations": self.conversations,
            "usage": self.usage,
            "data": self.data,
            "last_run": self.last_run,
            "created_at": self.created_at.isoformat(),
        }

    def _save(self, apply: Callable[[], None]) -> None:
        """Apply a change and store it; when another runtime saved in between, reload its
        state, apply the change again on top, and retry."""
        from llmspell.storage.components.agent_state import AgentStateConflict

        store = self._store()
        with self._lock:
            for _ in range(SAVE_ATTEMPTS):
                apply()
                try:
                    record = store.put(
                        self.name,
                        self.document(),
                        expected_version=self.version,
                        schema_version=SCHEMA_VERSION,
                    )
                except AgentStateConflict:
                    current = store.get(self.name)
                    if current is None:
                        self.version = 0
                    else:
                        spec = self.spec
                        self._adopt(current)
                        self.spec = spec  # this runtime's settings win
                    continue
                self.version = record.data_version
                self.updated_at = record.updated_at
                return
            raise AgentStateChurn(
                f"agent {self.name!r}: its state kept changing under this save "
                f"({SAVE_ATTEMPTS} attempts); try again"
            )

    def _adopt(self, record: AgentStateRecord) -> None:
        state = record.state
        self.version = record.data_version
        self.updated_at = record.updated_at
        self.conversations = {
            str(k): list(v) for k, v in (state.get("conversations") or {}).items()
        }
        usage = state.get("usage") or {}
        self.usage = {k: int(usage.get(k, 0)) for k in self.usage}
        self.data = dict(state.get("data") or {})
        self.last_run = state.get("last_run")
        created = state.get("created_at")
        if isinstance(created, str):
            try:
                self.created_at = datetime.fromisoformat(created)
            except ValueError:
                pass


def _trimmed(messages: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """The last `limit` messages, starting at a user message so no tool result or tool call
    is left without its partner."""
    if len(messages) <= limit:
        return messages
    kept = messages[-limit:]
    while kept and kept[0].get("role") != "user":
        kept = kept[1:]
    return kept
