"""Context: the most relevant memories and documents for a query, within a real token budget,
formatted for a prompt. `ContextAssembler` is the entry point (`infra.get(ContextAssembler)`);
`Context` in scripts is its API."""

from llmspell.runtime.context.assembler import (
    STRATEGIES,
    AssembledContext,
    ContextAssembler,
    ContextChunk,
)

__all__ = ["STRATEGIES", "AssembledContext", "ContextAssembler", "ContextChunk"]
