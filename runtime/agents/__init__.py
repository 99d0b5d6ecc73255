"""LLM-backed agents: settings (`spec`), the live agent and its stored state (`agent`), one
execute as steps (`turn`), and the runtime's registry of agents (`registry`).

The names load on first use: building a runtime imports `agents.rendering` (the notebook
view), which should not pull in the providers, asyncio and pydantic models before a script
makes an agent.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmspell.runtime.agents.agent import Agent
    from llmspell.runtime.agents.registry import AgentRegistry
    from llmspell.runtime.agents.services import AgentServices
    from llmspell.runtime.agents.spec import AgentSpec, spec_from_table
    from llmspell.runtime.agents.turn import (
        AgentTurn,
        TurnInput,
        parse_input,
        run_turn,
        workflow_input,
    )

_HOME = {
    "Agent": "agent",
    "AgentRegistry": "registry",
    "AgentServices": "services",
    "AgentSpec": "spec",
    "AgentTurn": "turn",
    "TurnInput": "turn",
    "parse_input": "turn",
    "run_turn": "turn",
    "spec_from_table": "spec",
    "workflow_input": "turn",
}

__all__ = [
    "Agent",
    "AgentRegistry",
    "AgentServices",
    "AgentSpec",
    "AgentTurn",
    "TurnInput",
    "parse_input",
    "run_turn",
    "spec_from_table",
    "workflow_input",
]


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
