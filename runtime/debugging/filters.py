"""Module filters of `Debug`: which modules' messages are shown. Rules match a module name
exactly, by shell-style wildcard, by prefix (hierarchical) or by regular expression (RE2, so a
script's pattern cannot backtrack for ever outside the time limit)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmspell.runtime.api.base import ValidationError

PATTERN_TYPES = ("exact", "wildcard", "hierarchical", "regex")
MAX_RULES = 1000


@dataclass(frozen=True)
class FilterRule:
    pattern: str
    pattern_type: str
    enabled: bool
    compiled: Any = None  # the RE2 pattern of a regex or wildcard rule

    def matches(self, module: str) -> bool:
        if self.pattern_type == "exact":
            return module == self.pattern
        if self.pattern_type == "hierarchical":
            return module == self.pattern or module.startswith(self.pattern + ".")
        if self.pattern_type == "wildcard":
            return self.compiled.fullmatch(module) is not None
        return self.compiled.search(module) is not None

    def as_dict(self) -> dict[str, Any]:
        return {"pattern": self.pattern, "pattern_type": self.pattern_type, "enabled": self.enabled}


class ModuleFilters:
    """Rules in the order added; the last rule matching a module decides, else the default."""

    def __init__(self) -> None:
        self.rules: list[FilterRule] = []
        self.default_enabled = True

    def add(self, fn: str, pattern: str, pattern_type: str, enabled: bool) -> None:
        if pattern_type not in PATTERN_TYPES:
            raise ValidationError(
                f"{fn}: pattern_type must be one of {', '.join(PATTERN_TYPES)}, "
                f"got {pattern_type!r}"
            )
        if len(self.rules) >= MAX_RULES and not any(r.pattern == pattern for r in self.rules):
            raise ValidationError(f"{fn}: at most {MAX_RULES} filter rules")
        compiled = None
        if pattern_type in ("wildcard", "regex"):
            import re2  # here, not at import: `llmspell exec` starts without it

            source = _wildcard(pattern) if pattern_type == "wildcard" else pattern
            try:
                compiled = re2.compile(source)
            except re2.error as exc:
                raise ValidationError(
                    f"{fn}: invalid {pattern_type} pattern {pattern!r}: {exc}"
                ) from None
        self.remove(pattern)
        self.rules.append(FilterRule(pattern, pattern_type, enabled, compiled))

    def remove(self, pattern: str) -> bool:
        kept = [rule for rule in self.rules if rule.pattern != pattern]
        removed = len(kept) != len(self.rules)
        self.rules = kept
        return removed

    def allows(self, module: str | None) -> bool:
        for rule in reversed(self.rules):
            if rule.matches(module or ""):
                return rule.enabled
        return self.default_enabled

    def summary(self) -> dict[str, Any]:
        enabled = sum(1 for rule in self.rules if rule.enabled)
        return {
            "total_rules": len(self.rules),
            "enabled_rules": enabled,
            "disabled_rules": len(self.rules) - enabled,
            "default_enabled": self.default_enabled,
            "rules": [rule.as_dict() for rule in self.rules],
        }


def _wildcard(pattern: str) -> str:
    """A wildcard pattern (`*` any run of characters, `?` one) as a regular expression."""
    import re2

    parts = {"*": ".*", "?": "."}
    return "(?s)" + "".join(parts.get(char) or re2.escape(char) for char in pattern)
