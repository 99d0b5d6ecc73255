"""Where RAG keeps a collection: the vectors namespace of a scope.

| scope, scope_id     | namespace                 |
|---------------------|---------------------------|
| none, or `global`   | `global`                  |
| `session`, `<id>`   | `session:<id>` (deleted with the Session: the session-delete cascade) |
| `<scope>`, `<id>`   | `rag:<scope>:<id>`        |

A scope is a name (letters, digits, `_`, `.`, `-`; no `:`), so no two (scope, scope_id) pairs
share a namespace. A session scope id that is a UUID is written in the canonical form Session
ids use, so the cascade finds it however the script spelt it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from llmspell.runtime.errors import InvalidArgument

GLOBAL_NAMESPACE = "global"
SESSION_SCOPE = "session"
MAX_SCOPE_LEN = 64
MAX_SCOPE_ID_LEN = 256
_SCOPE = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class Collection:
    """A scope's collection: (None, None) is the global one."""

    scope: str | None
    scope_id: str | None

    @property
    def namespace(self) -> str:
        if self.scope is None or self.scope_id is None:
            return GLOBAL_NAMESPACE
        if self.scope == SESSION_SCOPE:
            return f"{SESSION_SCOPE}:{self.scope_id}"
        return f"rag:{self.scope}:{self.scope_id}"


def check_scope(scope: str) -> str:
    if not isinstance(scope, str) or not scope:
        raise InvalidArgument(f"scope must be a non-empty string, got {scope!r}")
    if len(scope) > MAX_SCOPE_LEN or not _SCOPE.match(scope):
        raise InvalidArgument(
            f"scope must be 1-{MAX_SCOPE_LEN} letters, digits, '_', '.' or '-' (no ':'), "
            f"got {scope!r}"
        )
    return scope


def check_scope_id(scope: str, scope_id: str) -> str:
    if not isinstance(scope_id, str) or not scope_id:
        raise InvalidArgument(f"scope_id must be a non-empty string, got {scope_id!r}")
    if len(scope_id) > MAX_SCOPE_ID_LEN or "\x00" in scope_id:
        raise InvalidArgument(
            f"scope_id must be at most {MAX_SCOPE_ID_LEN} characters without NUL bytes"
        )
    if scope == SESSION_SCOPE:
        try:
            return str(uuid.UUID(scope_id))
        except ValueError:
            return scope_id
    return scope_id


def collection(scope: str | None, scope_id: str | None) -> Collection:
    """The collection a call with these options reads or writes: both or neither."""
    if scope_id is None and scope in (None, GLOBAL_NAMESPACE):
        return Collection(None, None)
    if scope is None:
        raise InvalidArgument("scope_id needs a scope (give both, or neither for the global one)")
    scope = check_scope(scope)
    if scope_id is None:
        raise InvalidArgument(
            f"scope {scope!r} needs a scope_id (give both, or neither for the global one)"
        )
    return Collection(scope, check_scope_id(scope, scope_id))


def namespace_prefix(scope: str) -> str:
    """What the namespaces of every collection of `scope` start with."""
    scope = check_scope(scope)
    return f"{SESSION_SCOPE}:" if scope == SESSION_SCOPE else f"rag:{scope}:"


def collection_of(namespace: str) -> Collection | None:
    """The collection a namespace holds (None: not a RAG namespace)."""
    if namespace == GLOBAL_NAMESPACE:
        return Collection(None, None)
    if namespace.startswith(f"{SESSION_SCOPE}:"):
        return Collection(SESSION_SCOPE, namespace[len(SESSION_SCOPE) + 1 :])
    if namespace.startswith("rag:"):
        scope, _, scope_id = namespace[4:].partition(":")
        if scope and scope_id:
            return Collection(scope, scope_id)
    return None


__all__ = [
    "GLOBAL_NAMESPACE",
    "SESSION_SCOPE",
    "Collection",
    "check_scope",
    "check_scope_id",
    "collection",
    "collection_of",
    "namespace_prefix",
]
