"""StateManager: the rules of scoped state (the shape of scopes and keys) over the kv store.

The value's size limit is the store's (it measures the JSON it writes); a bad scope or key is an
`InvalidArgument` and the API layer names the script function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from llmspell.runtime.errors import InvalidArgument, kind_of
from llmspell.runtime.session_data import owns_session_data

if TYPE_CHECKING:
    from llmspell.runtime.infrastructure import Infrastructure
    from llmspell.storage.components.kv import KVStore, StateVersion

MAX_KEY_LEN = 256
MAX_SCOPE_LEN = 256


@owns_session_data
class StateManager:
    """Validates and stores state for one tenant (the tenant is fixed by the KVStore)."""

    def __init__(self, kv: Callable[[], KVStore]) -> None:
        self._kv = kv  # opens storage on first use (see Infrastructure)

    @classmethod
    def from_infrastructure(cls, infra: Infrastructure) -> StateManager:
        return cls(lambda: infra.storage.kv)

    def save(self, scope: str, key: str, value: Any) -> int:
        """Store `value`; returns its new version."""
        return self._kv().put(check_scope(scope), check_key(key), value)

    def load(self, scope: str, key: str) -> Any:
        return self._kv().get(check_scope(scope), check_key(key))

    def delete(self, scope: str, key: str) -> bool:
        return self._kv().delete(check_scope(scope), check_key(key))

    def exists(self, scope: str, key: str) -> bool:
        return self._kv().exists(check_scope(scope), check_key(key))

    def list_keys(self, scope: str, prefix: str | None = None) -> list[str]:
        return self._kv().list_keys(check_scope(scope), prefix)

    def clear(self, scope: str) -> int:
        return self._kv().clear(check_scope(scope))

    def history(self, scope: str, key: str, limit: int | None = None) -> list[StateVersion]:
        return self._kv().history(check_scope(scope), check_key(key), limit)

    def delete_session_data(self, session_id: str) -> int:
        """Clear the `session:<id>` scope (the session-delete cascade); keys removed."""
        return self._kv().clear(f"session:{session_id}")


def check_scope(scope: Any) -> str:
    """`scope` if it is a valid scope name (1-256 characters, no NUL/CR/LF)."""
    return _check_text("scope", scope, MAX_SCOPE_LEN)


def check_key(key: Any) -> str:
    """`key` if it is a valid key (1-256 characters, no NUL/CR/LF)."""
    return _check_text("key", key, MAX_KEY_LEN)


def _check_text(arg: str, value: Any, max_len: int) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"{arg} must be a non-empty string, got {kind_of(value)}")
    if not value:
        raise InvalidArgument(f"{arg} must be a non-empty string")
    if len(value) > max_len:
        raise InvalidArgument(f"{arg} must be 1-{max_len} characters, got {len(value)}")
    bad = next((c for c in value if c in "\x00\r\n"), None)
    if bad is not None:
        raise InvalidArgument(f"{arg} must not contain NUL, CR or LF (got {value!r})")
    return value
