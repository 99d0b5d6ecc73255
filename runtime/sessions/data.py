"""Who keeps data per session: the hook point `Session.delete` cascades through.

A manager that stores data belonging to a session (artifacts, the `session:<id>` State scope,
episodic memory, session-scoped RAG chunks...) declares itself in its own module with
`@owns_session_data` and implements `delete_session_data(session_id) -> int` (how many things
it removed). `SessionManager.delete` asks every declared owner, through the runtime's
Infrastructure, before it removes the session itself; it never names the owners.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from llmspell.runtime.infrastructure import Infrastructure


class SessionDataOwner(Protocol):
    """A runtime manager that keeps data per session."""

    @classmethod
    def from_infrastructure(cls, infra: Infrastructure) -> SessionDataOwner: ...

    def delete_session_data(self, session_id: str) -> int:
        """Delete everything this manager keeps for `session_id` (this tenant); how many."""
        ...


OwnerClass = TypeVar("OwnerClass", bound=type)

_owners: dict[str, type[SessionDataOwner]] = {}


def owns_session_data(cls: OwnerClass) -> OwnerClass:
    """Class decorator: `cls` (a manager with `from_infrastructure` and `delete_session_data`)
    keeps data per session, so deleting a session deletes that data too."""
    for needed in ("from_infrastructure", "delete_session_data"):
        if not callable(getattr(cls, needed, None)):
            raise TypeError(f"{cls.__qualname__} declares session data but has no {needed}()")
    _owners[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return cls


def session_data_owners() -> list[type[SessionDataOwner]]:
    """Every declared owner, in a stable order (by module and class name).

    The script globals' modules are imported first: each imports the managers it calls, so
    every owner has declared itself however this runtime was started (ScriptRuntime, the
    kernel, or a library user with only an Infrastructure).
    """
    from llmspell.runtime.api import global_classes

    global_classes()
    return [_owners[name] for name in sorted(_owners)]
