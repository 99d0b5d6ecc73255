"""The vector part of the session-delete cascade: a deleted session's episodic entries and the
vectors of its `session:<id>` namespace (session-scoped RAG chunks) go with it. Works whether
or not memory is enabled (data written while it was on still goes) and loads no model."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmspell.runtime.infrastructure import Infrastructure


class SessionVectors:
    """Deletes what the vectors component holds for a session."""

    def __init__(self, infra: Infrastructure) -> None:
        self._infra = infra

    @classmethod
    def from_infrastructure(cls, infra: Infrastructure) -> SessionVectors:
        return cls(infra)

    def delete_session_data(self, session_id: str) -> int:
        # Imported here: they load SQLAlchemy and numpy, which only a real delete needs.
        from llmspell.runtime.memory.episodic import NAMESPACE, check_session_id
        from llmspell.storage.components.vectors import VectorFilter

        session_id = check_session_id(session_id)
        vectors = self._infra.storage.vectors
        episodic: int = vectors.delete_where(
            NAMESPACE, VectorFilter(document_ids=frozenset({session_id}))
        )
        scoped: int = vectors.delete_namespace(f"session:{session_id}")
        return episodic + scoped
