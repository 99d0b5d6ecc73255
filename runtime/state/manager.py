"""StateManager: the rules of scoped state (the shape of scopes and keys) over the kv store.

The value's size limit is the store's (it measures the JSON it writes); a bad scope or key is an
`InvalidArgument` and the API layer names the script function. Every write (save, delete,
clear) runs the `BeforeStateWrite` hooks first — a cancel stops it, a modify changes what is
written — and the `AfterStateWrite` hooks once it is done.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from llmspell.runtime.errors import InvalidArgument, kind_of
from llmspell.runtime.hooks import HookRegistry

if TYPE_CHECKING:
    from llmspell.runtime.infrastructure import Infrastructure
    from llmspell.storage.components.kv import KVStore, KVUsage, StateVersion

MAX_KEY_LEN = 256
MAX_SCOPE_LEN = 256
HOOK_COMPONENT = "state"


class StateManager:
    """Validates and stores state for one tenant (the tenant is fixed by the KVStore)."""

    def __init__(
        self, kv: Callable[[], KVStore], hooks: Callable[[], HookRegistry] | None = None
    ) -> None:
        self._kv = kv  # opens storage on first use (see Infrastructure)
        self._hooks = hooks

    @classmethod
    def from_infrastructure(cls, infra: Infrastructure) -> StateManager:
        return cls(lambda: infra.storage.kv, lambda: infra.get(HookRegistry))

    def save(self, scope: str, key: str, value: Any) -> int:
        """Store `value`; returns its new version. Hook data: `{operation = "save", scope, key,
        value}` (a modify may change all three; `version` is added after the write)."""
        write = {"operation": "save", "scope": check_scope(scope), "key": check_key(key)}
        write["value"] = value
        hooks, correlation_id = self._before(write)
        if hooks is not None:
            changed = hooks.run("BeforeStateWrite", HOOK_COMPONENT, write, correlation_id)
            write = _rewritten(changed, write["operation"])
        version = self._kv().put(write["scope"], write["key"], write.get("value"))
        if hooks is not None:
            done = {**write, "version": version}
            hooks.run("AfterStateWrite", HOOK_COMPONENT, done, correlation_id)
        return version

    def load(self, scope: str, key: str) -> Any:
        return self._kv().get(check_scope(scope), check_key(key))

    def delete(self, scope: str, key: str) -> bool:
        """Delete a key; hook data `{operation = "delete", scope, key}` (+ `existed` after)."""
        write = {"operation": "delete", "scope": check_scope(scope), "key": check_key(key)}
        hooks, correlation_id = self._before(write)
        if hooks is not None:
            changed = hooks.run("BeforeStateWrite", HOOK_COMPONENT, write, correlation_id)
            write = _rewritten(changed, write["operation"])
        existed = self._kv().delete(write["scope"], write["key"])
        if hooks is not None:
            done = {**write, "existed": existed}
            hooks.run("AfterStateWrite", HOOK_COMPONENT, done, correlation_id)
        return existed

    def exists(self, scope: str, key: str) -> bool:
        return self._kv().exists(check_scope(scope), check_key(key))

    def list_keys(self, scope: str, prefix: str | None = None) -> list[str]:
        return self._kv().list_keys(check_scope(scope), prefix)

    def clear(self, scope: str) -> int:
        """Delete a scope's keys; hook data `{operation = "clear", scope}` (+ `removed` after)."""
        write: dict[str, Any] = {"operation": "clear", "scope": check_scope(scope)}
        hooks, correlation_id = self._before(write)
        if hooks is not None:
            changed = hooks.run("BeforeStateWrite", HOOK_COMPONENT, write, correlation_id)
            write = _rewritten(changed, write["operation"])
        removed = self._kv().clear(write["scope"])
        if hooks is not None:
            done = {**write, "removed": removed}
            hooks.run("AfterStateWrite", HOOK_COMPONENT, done, correlation_id)
        return removed

    def _before(self, write: dict[str, Any]) -> tuple[HookRegistry | None, str | None]:
        """The registry when state-write hooks are registered (else None: nothing to run), and
        the correlation id the before and after runs of this write share."""
        if self._hooks is None:
            return None, None
        hooks = self._hooks()
        if not hooks.hooks("BeforeStateWrite") and not hooks.hooks("AfterStateWrite"):
            return None, None
        return hooks, str(uuid.uuid4())

    def history(self, scope: str, key: str, limit: int | None = None) -> list[StateVersion]:
        return self._kv().history(check_scope(scope), check_key(key), limit)

    def usage(self) -> KVUsage:
        """What the tenant's state takes, over every scope."""
        return self._kv().usage()

    def delete_session_data(self, session_id: str) -> int:
        """Clear the `session:<id>` scope (the session-delete cascade); keys removed."""
        return self._kv().clear(f"session:{session_id}")


def _rewritten(write: Any, operation: str) -> dict[str, Any]:
    """The write as BeforeStateWrite hooks left it, checked like the script's own arguments."""
    problem = ""
    if not isinstance(write, dict):
        problem = f"to {kind_of(write)}; it must stay a table {{operation, scope, key, value}}"
    elif write.get("operation") != operation:
        problem = f"from a {operation} to {write.get('operation')!r}; the operation stays"
    if problem:
        raise InvalidArgument(f"a BeforeStateWrite hook changed the write {problem}")
    checked = dict(write)
    try:
        checked["scope"] = check_scope(write.get("scope"))
        if operation != "clear":
            checked["key"] = check_key(write.get("key"))
    except InvalidArgument as exc:
        raise InvalidArgument(f"a BeforeStateWrite hook changed the write: {exc}") from None
    return checked


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
