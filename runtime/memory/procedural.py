"""Procedural memory: which action worked for a trigger, ranked with a minimum-evidence rule.

A pattern's `success_rate` is successes / observations; suggestions rank by `confidence`, the
lower bound of the Wilson score interval of that rate (one-sided, `memory.procedural_confidence`,
default 90 %): one success out of one scores 0.38, ten out of ten 0.86, so a single lucky
success never outranks a long record.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

from llmspell.runtime.errors import InvalidArgument

if TYPE_CHECKING:
    from llmspell.storage.components.procedural import ProceduralPattern, ProceduralStore

OUTCOMES = ("success", "failure")


def wilson_lower_bound(successes: int, observations: int, confidence: float) -> float:
    """The lower end of the one-sided Wilson interval of a success rate (0 with no data)."""
    if observations <= 0:
        return 0.0
    z = NormalDist().inv_cdf(confidence)
    p = successes / observations
    n = observations
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, (centre - spread) / (1 + z * z / n))


@dataclass(frozen=True)
class Pattern:
    """A pattern as callers see it."""

    id: str
    trigger: str
    action: str
    successes: int
    failures: int
    success_rate: float
    confidence: float
    first_seen: datetime
    last_seen: datetime
    context: Any


class ProceduralMemory:
    """Record outcomes and suggest actions for one tenant."""

    def __init__(self, store: Callable[[], ProceduralStore], confidence: float = 0.9) -> None:
        self._store = store
        self.confidence = confidence

    def _pattern(self, stored: ProceduralPattern) -> Pattern:
        return Pattern(
            id=stored.id,
            trigger=stored.trigger,
            action=stored.action,
            successes=stored.successes,
            failures=stored.failures,
            success_rate=stored.success_rate,
            confidence=wilson_lower_bound(stored.successes, stored.observations, self.confidence),
            first_seen=stored.first_seen,
            last_seen=stored.last_seen,
            context=stored.context,
        )

    def record(
        self, trigger: str, action: str, outcome: str = "success", context: Any = None
    ) -> Pattern:
        if outcome not in OUTCOMES:
            raise InvalidArgument(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
        return self._pattern(self._store().record(trigger, action, outcome == "success", context))

    def suggest(self, trigger: str, min_success_rate: float = 0.0, limit: int = 5) -> list[Pattern]:
        """The trigger's patterns whose `confidence` reaches `min_success_rate`, best first."""
        if not 0.0 <= min_success_rate <= 1.0:
            raise InvalidArgument(
                f"min_success_rate must be between 0 and 1, got {min_success_rate}"
            )
        patterns = [self._pattern(p) for p in self._store().for_trigger(trigger)]
        chosen = [p for p in patterns if p.confidence >= min_success_rate and p.successes > 0]
        chosen.sort(
            key=lambda p: (-p.confidence, -p.successes, p.last_seen.timestamp() * -1, p.action)
        )
        return chosen[:limit]

    def list(self, min_frequency: int = 0, limit: int | None = None) -> list[Pattern]:
        """Patterns observed at least `min_frequency` times, most observed first."""
        return [self._pattern(p) for p in self._store().list(min_frequency, limit)]

    def forget(self, trigger: str, action: str | None = None) -> int:
        """Delete the trigger's patterns (only `action`'s when given); returns how many."""
        store = self._store()
        actions = [action] if action is not None else [p.action for p in store.for_trigger(trigger)]
        return sum(store.delete(trigger, a) for a in actions)

    def count(self) -> int:
        return self._store().count()
