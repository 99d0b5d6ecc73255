"""LLM-backed agents: settings (`spec`), the live agent and its stored state (`agent`), one
execute as steps (`turn`), and the runtime's registry of agents (`registry`)."""

from llmspell.runtime.agents.agent import Agent
from llmspell.runtime.agents.registry import AgentRegistry
from llmspell.runtime.agents.services import AgentServices
from llmspell.runtime.agents.spec import AgentSpec, spec_from_table
from llmspell.runtime.agents.turn import AgentTurn, TurnInput, parse_input, run_turn, workflow_input

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
