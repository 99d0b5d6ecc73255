"""Memory: episodic (what was said), semantic (a bi-temporal graph of facts), procedural (what
worked), and consolidation from the first into the second. `MemoryManager` is the entry point
(`infra.get(MemoryManager)`); `Memory` in scripts is its API."""

from llmspell.runtime.memory.consolidation import (
    DECISIONS_SCHEMA,
    ConsolidationReport,
    Decision,
    LlmProvider,
)
from llmspell.runtime.memory.episodic import EpisodicEntry, EpisodicMemory, NewTurn
from llmspell.runtime.memory.manager import MemoryManager
from llmspell.runtime.memory.procedural import Pattern, ProceduralMemory
from llmspell.runtime.memory.semantic import SemanticMemory

__all__ = [
    "DECISIONS_SCHEMA",
    "ConsolidationReport",
    "Decision",
    "EpisodicEntry",
    "EpisodicMemory",
    "LlmProvider",
    "MemoryManager",
    "NewTurn",
    "Pattern",
    "ProceduralMemory",
    "SemanticMemory",
]
