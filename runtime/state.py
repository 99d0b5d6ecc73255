"""StateManager: the rules of scoped state (key shape, value size) over the storage kv component."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from llmspell.runtime.api.base import ApiError, ValidationError, ensure_data, type_name
from llmspell.storage.errors import StorageError
from llmspell.storage.protocols import KVStore, StateVersion

MAX_KEY_LEN = 256
MAX_SCOPE_LEN = 256


class StateManager:
    """Validates and stores state for one tenant (the tenant is fixed by the KVStore)."""

    def __init__(self, kv: KVStore | Callable[[], KVStore], max_value_bytes: int) -> None:
        # A callable opens storage on first use (see Infrastructure).
        self._kv_source = kv
        self.max_value_bytes = max_value_bytes

    @contextmanager
    def _kv(self, fn: str) -> Iterator[KVStore]:
        """The kv store; storage failures become errors that name the API function."""
        source = self._kv_source
        try:
            yield source() if callable(source) else source
        except StorageError as exc:
            raise ApiError(f"{fn}: storage error: {exc}") from None

    def save(self, scope: str, key: str, value: Any, fn: str = "State.save") -> int:
        self._check(fn, scope, key)
        ensure_data(fn, "value", value)
        size = len(json.dumps(value, ensure_ascii=False).encode())
        if size > self.max_value_bytes:
            raise ValidationError(
                f"{fn}: value is {size} bytes, over the limit of {self.max_value_bytes} bytes "
                "(storage.max_value_mb)"
            )
        with self._kv(fn) as kv:
            return kv.put(scope, key, value)

    def load(self, scope: str, key: str, fn: str = "State.load") -> Any:
        self._check(fn, scope, key)
        with self._kv(fn) as kv:
            return kv.get(scope, key)

    def delete(self, scope: str, key: str, fn: str = "State.delete") -> bool:
        self._check(fn, scope, key)
        with self._kv(fn) as kv:
            return kv.delete(scope, key)

    def exists(self, scope: str, key: str, fn: str = "State.exists") -> bool:
        self._check(fn, scope, key)
        with self._kv(fn) as kv:
            return kv.exists(scope, key)

    def list_keys(
        self, scope: str, prefix: str | None = None, fn: str = "State.list_keys"
    ) -> list[str]:
        self._check_scope(fn, scope)
        with self._kv(fn) as kv:
            return kv.list_keys(scope, prefix)

    def clear(self, scope: str, fn: str = "State.clear") -> int:
        self._check_scope(fn, scope)
        with self._kv(fn) as kv:
            return kv.clear(scope)

    def history(
        self, scope: str, key: str, limit: int | None = None, fn: str = "State.history"
    ) -> list[StateVersion]:
        self._check(fn, scope, key)
        with self._kv(fn) as kv:
            return kv.history(scope, key, limit)

    def _check(self, fn: str, scope: str, key: str) -> None:
        self._check_scope(fn, scope)
        _check_text(fn, "key", key, MAX_KEY_LEN)

    def _check_scope(self, fn: str, scope: str) -> None:
        _check_text(fn, "scope", scope, MAX_SCOPE_LEN)


def _check_text(fn: str, arg: str, value: Any, max_len: int) -> None:
    if not isinstance(value, str):
        kind = "binary data" if isinstance(value, bytes) else type_name(value)
        raise ValidationError(f"{fn}: {arg} must be a non-empty string, got {kind}")
    if not value:
        raise ValidationError(f"{fn}: {arg} must be a non-empty string")
    if len(value) > max_len:
        raise ValidationError(f"{fn}: {arg} must be 1-{max_len} characters, got {len(value)}")
    bad = next((c for c in value if c in "\x00\r\n"), None)
    if bad is not None:
        raise ValidationError(f"{fn}: {arg} must not contain NUL, CR or LF (got {value!r})")
