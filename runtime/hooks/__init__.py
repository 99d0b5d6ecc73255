"""Hooks: the hook points and the registry that runs a point's hooks in priority order and
records each call (`registry`), and hooks written as code cells (`code`)."""

from llmspell.runtime.hooks.registry import (
    CALLBACK_RESULTS,
    HOOK_POINTS,
    PRIORITIES,
    UNFIRED_POINTS,
    UNSUPPORTED_RESULTS,
    HookCancelled,
    HookRegistry,
    RegisteredHook,
    check_point,
    check_priority,
    interpret,
    json_safe,
)

__all__ = [
    "CALLBACK_RESULTS",
    "HOOK_POINTS",
    "PRIORITIES",
    "UNFIRED_POINTS",
    "UNSUPPORTED_RESULTS",
    "HookCancelled",
    "HookRegistry",
    "RegisteredHook",
    "check_point",
    "check_priority",
    "interpret",
    "json_safe",
]
