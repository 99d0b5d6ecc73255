"""State: scoped key/value data with kept versions, over the kv component (`manager`)."""

from llmspell.runtime.state.manager import (
    HOOK_COMPONENT,
    MAX_KEY_LEN,
    MAX_SCOPE_LEN,
    StateManager,
    check_key,
    check_scope,
)

__all__ = [
    "HOOK_COMPONENT",
    "MAX_KEY_LEN",
    "MAX_SCOPE_LEN",
    "StateManager",
    "check_key",
    "check_scope",
]
