"""`MemoryManager`: episodic, semantic and procedural memory of one tenant, plus consolidation.

Built by the infrastructure on first use (`infra.get(MemoryManager)`); refuses to exist when
`memory.enabled = false`. The embedding model loads on the first episodic add or search.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from llmspell.runtime.errors import Disabled
from llmspell.runtime.memory.consolidation import Consolidation, ConsolidationReport, LlmProvider
from llmspell.runtime.memory.episodic import EpisodicMemory, check_session_id
from llmspell.runtime.memory.procedural import ProceduralMemory
from llmspell.runtime.memory.semantic import SemanticMemory
from llmspell.runtime.sessions.vectors import SessionVectors

if TYPE_CHECKING:
    from llmspell.runtime.embeddings import Embedder
    from llmspell.runtime.infrastructure import Infrastructure
    from llmspell.runtime.retrieval import HybridSearch


class MemoryManager:
    """The three memories and consolidation. `mode="llm"` consolidation asks `llm_provider`
    when one is set (a test's function), else the model `llm_model` names through the
    runtime's providers; with neither it is refused with a clear error."""

    def __init__(
        self,
        episodic: EpisodicMemory,
        semantic: SemanticMemory,
        procedural: ProceduralMemory,
        embedder: Embedder,
        backend: str,
        delete_session: Callable[[str], int],
    ) -> None:
        self.episodic = episodic
        self.semantic = semantic
        self.procedural = procedural
        self.embedder = embedder
        self.backend = backend
        self.llm_provider: LlmProvider | None = None
        # (model, stop_requested) -> a prompt function, when a model is configured
        self.llm_model: Callable[[Callable[[], bool]], LlmProvider] | None = None
        self._delete_session = delete_session
        self._consolidation = Consolidation(episodic, semantic)

    @classmethod
    def from_infrastructure(cls, infra: Infrastructure) -> MemoryManager:
        if not infra.config.memory.enabled:
            raise Disabled("memory.enabled")
        from llmspell.runtime.embeddings import Embedder
        from llmspell.runtime.retrieval import HybridSearch

        embedder = infra.get(Embedder)
        search: HybridSearch = infra.get(HybridSearch)
        storage = infra.config.storage
        backend = storage.components.get("vectors", storage.backend)
        manager = cls(
            EpisodicMemory(lambda: infra.storage.vectors, embedder, search),
            SemanticMemory(lambda: infra.storage.graph, infra.limits),
            ProceduralMemory(
                lambda: infra.storage.procedural, infra.config.memory.procedural_confidence
            ),
            embedder,
            backend,
            lambda session_id: infra.get(SessionVectors).delete_session_data(session_id),
        )
        model = infra.config.memory.llm_model or infra.config.agents.default_model
        if model:

            def ask(stop_requested: Callable[[], bool]) -> LlmProvider:
                from llmspell.runtime.providers import ProviderManager

                providers = infra.get(ProviderManager)
                return lambda prompt: providers.complete(model, prompt, stop_requested)

            manager.llm_model = ask
        return manager

    def consolidate(
        self,
        session_id: str | None = None,
        mode: str = "rules",
        dry_run: bool = False,
        stop_requested: Callable[[], bool] = lambda: False,
    ) -> ConsolidationReport:
        """Turn unprocessed episodic entries (of one session, or all) into graph facts."""
        if session_id:
            check_session_id(session_id)
        llm = self.llm_provider
        if llm is None and self.llm_model is not None and mode == "llm":
            llm = self.llm_model(stop_requested)
        return self._consolidation.run(session_id, mode, dry_run, llm)

    def stats(self) -> dict[str, Any]:
        entities, relationships = self.semantic.counts()
        return {
            "episodic_count": self.episodic.count(),
            "semantic_entities": entities,
            "semantic_relationships": relationships,
            "procedural_patterns": self.procedural.count(),
            "sessions_with_unprocessed": self.episodic.sessions_with_unprocessed(),
            "embedding_model": self.embedder.model,
            "backend": self.backend,
        }

    def delete_session_data(self, session_id: str) -> int:
        """Delete what memory holds for a session: its episodic entries and the vectors of the
        `session:<id>` namespace. Returns how many rows went. (The session-delete cascade.)"""
        return self._delete_session(session_id)
