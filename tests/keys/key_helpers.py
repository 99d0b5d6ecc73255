"""Helpers of the key store suites (fixtures are in conftest.py)."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from typing import Any

from llmspell.runtime.keys import KeyStore
from llmspell.storage import ApiKeyRecord

MakeKeys = Callable[..., KeyStore]


def b64key() -> str:
    """A fresh master key as LLMSPELL_MASTER_KEY holds it."""
    return base64.b64encode(os.urandom(32)).decode("ascii")


class FailingReencrypt:
    """The real store, except that re-encryption fails on the `fail_on`-th key."""

    def __init__(self, store: Any, fail_on: int = 2) -> None:
        self._store = store
        self.fail_on = fail_on

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def reencrypt(self, transform: Callable[[ApiKeyRecord], tuple[bytes, bytes, int]]) -> int:
        seen = 0

        def failing(record: ApiKeyRecord) -> tuple[bytes, bytes, int]:
            nonlocal seen
            seen += 1
            if seen == self.fail_on:
                raise RuntimeError("injected failure")
            return transform(record)

        return int(self._store.reencrypt(failing))
