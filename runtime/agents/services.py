"""What agents need from the runtime, gathered once (tests build it by hand)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmspell.runtime.config import AgentsConfig
    from llmspell.runtime.context import ContextAssembler
    from llmspell.runtime.hooks import HookRegistry
    from llmspell.runtime.memory import MemoryManager
    from llmspell.runtime.providers import ProviderManager
    from llmspell.runtime.tools.registry import ToolRegistry
    from llmspell.storage.components.agent_state import AgentStateStore


@dataclass(frozen=True)
class AgentServices:
    """Providers, tools, hooks, memory and context (built on first use), the current session
    and where agent state is stored."""

    config: AgentsConfig
    providers: ProviderManager
    tools: ToolRegistry
    hooks: HookRegistry
    memory: Callable[[], MemoryManager]
    context: Callable[[], ContextAssembler]
    current_session: Callable[[], str | None]
    store: Callable[[], AgentStateStore]
