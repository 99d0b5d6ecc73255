"""Who keeps data per session: the hook point `Session.delete` cascades through.

A storage component whose rows belong to sessions (artifacts, the `session:<id>` State scope,
episodic memory and session-scoped RAG chunks in vectors) names, in its declaration, the
runtime manager that deletes them: `Component(..., session_data_owner="module:Class")`. The
manager implements `delete_session_data(session_id) -> int` (how many things it removed).
`SessionManager.delete` asks every owner, through the runtime's Infrastructure, before it
removes the session itself; it never names the owners.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from llmspell.runtime.infrastructure import Infrastructure


class SessionDataOwner(Protocol):
    """A runtime manager that keeps data per session."""

    @classmethod
    def from_infrastructure(cls, infra: Infrastructure) -> SessionDataOwner: ...

    def delete_session_data(self, session_id: str) -> int:
        """Delete everything this manager keeps for `session_id` (this tenant); how many."""
        ...


def owner_class(path: str) -> type[SessionDataOwner]:
    """The class a component names as its session-data owner ("module:Class"); TypeError
    when it lacks what the cascade calls."""
    module, _, name = path.partition(":")
    cls: type[SessionDataOwner] = getattr(import_module(module), name)
    for needed in ("from_infrastructure", "delete_session_data"):
        if not callable(getattr(cls, needed, None)):
            raise TypeError(f"{path} is named as a session-data owner but has no {needed}()")
    return cls


def session_data_owners() -> list[type[SessionDataOwner]]:
    """The owners the storage components name, in a stable order (by component name), each
    once."""
    from llmspell.storage import registry

    paths = [c.session_data_owner for c in registry.components() if c.session_data_owner]
    return [owner_class(path) for path in dict.fromkeys(paths)]
