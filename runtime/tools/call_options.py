"""The reference's per-call options of `Tool.execute(name, params, {timeout, retry, cache})`:
a time limit for a built-in tool's run, retries of a run that failed, and results kept for
identical calls during the runtime's life."""

from __future__ import annotations

import copy
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmspell.runtime.errors import InvalidArgument
from llmspell.storage.values import canonical_json

if TYPE_CHECKING:
    from llmspell.runtime.tools.registry import ToolCall, ToolRegistry

OPTIONS = ("timeout", "retry", "cache")
MAX_RETRIES = 10
CACHED_CALLS = 256  # results kept per runtime, least recently used dropped first
POLL_S = 0.05


@dataclass(frozen=True)
class CallOptions:
    """`timeout` in milliseconds (None: the script's limits only), `retry`: more attempts
    after a failed run, `cache`: reuse the result of an identical earlier call."""

    timeout_ms: int | None = None
    retry: int = 0
    cache: bool = False

    @classmethod
    def parse(cls, fn: str, value: Any) -> CallOptions:
        if value is None or value == {} or value == []:
            return cls()
        if not isinstance(value, dict):
            raise InvalidArgument(
                f"{fn}: options must be a table {{timeout?, retry?, cache?}}, got "
                f"{type(value).__name__}"
            )
        unknown = sorted(set(value) - set(OPTIONS))
        if unknown:
            raise InvalidArgument(
                f"{fn}: unknown option {unknown[0]!r}; options: {', '.join(OPTIONS)}"
            )
        timeout, retry, cache = value.get("timeout"), value.get("retry", 0), value.get("cache")
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 1
        ):
            raise InvalidArgument(f"{fn}: timeout must be milliseconds >= 1, got {timeout!r}")
        if isinstance(retry, bool) or not isinstance(retry, int) or not 0 <= retry <= MAX_RETRIES:
            raise InvalidArgument(
                f"{fn}: retry must be an integer from 0 to {MAX_RETRIES}, got {retry!r}"
            )
        if cache is not None and not isinstance(cache, bool):
            raise InvalidArgument(f"{fn}: cache must be true or false, got {cache!r}")
        return cls(timeout, retry, bool(cache))


class ResultCache:
    """Successful results by tool name and parameters (canonical JSON), at most
    CACHED_CALLS; each caller gets its own copy."""

    def __init__(self) -> None:
        self._results: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(name: str, params: Any) -> tuple[str, str]:
        return name, canonical_json("params", params)

    def get(self, key: tuple[str, str]) -> dict[str, Any] | None:
        with self._lock:
            found = self._results.get(key)
            if found is None:
                return None
            self._results.move_to_end(key)
        result = copy.deepcopy(found)
        result.setdefault("metadata", {})["cached"] = True
        return result

    def put(self, key: tuple[str, str], result: dict[str, Any]) -> None:
        with self._lock:
            self._results[key] = copy.deepcopy(result)
            self._results.move_to_end(key)
            while len(self._results) > CACHED_CALLS:
                self._results.popitem(last=False)


def execute(
    tools: ToolRegistry,
    name: str,
    params: Any,
    options: CallOptions,
    cache: ResultCache,
    stop_requested: Callable[[], bool],
) -> dict[str, Any]:
    """`tools.execute(name, params)` under `options`; `metadata.attempts` counts the runs,
    `metadata.cached` marks a result reused."""
    key = ResultCache.key(name, params) if options.cache else None
    if key is not None:
        hit = cache.get(key)
        if hit is not None:
            return hit
    result: dict[str, Any] = {}
    for attempt in range(1, options.retry + 2):
        call = tools.prepare(name, params)
        if options.timeout_ms is None:
            call.run()
        else:
            _run_within(call, options.timeout_ms, stop_requested)
        result = tools.finish(call)
        if isinstance(result, dict):
            result.setdefault("metadata", {})["attempts"] = attempt
        if isinstance(result, dict) and result.get("success"):
            break
    if key is not None and isinstance(result, dict) and result.get("success"):
        cache.put(key, result)
    return result


def _run_within(call: ToolCall, timeout_ms: int, stop_requested: Callable[[], bool]) -> None:
    """Run a built-in tool's call on a helper thread for at most `timeout_ms`; past it the
    call fails saying so (the helper finishes in the background, its result unused)."""
    if call.tool.script_side:
        raise InvalidArgument(
            f"Tool.execute: timeout applies to built-in tools; {call.tool.name!r} is a script "
            "function, which the script's own limits bound"
        )
    done = threading.Event()
    failure: list[BaseException] = []

    def work() -> None:
        try:
            call.run()
        except BaseException as exc:  # PathNotAllowed: raised on the caller's thread below
            failure.append(exc)
        finally:
            done.set()

    threading.Thread(target=work, name=f"tool-{call.tool.name}", daemon=True).start()
    deadline = time.monotonic() + timeout_ms / 1000
    while not done.wait(min(POLL_S, max(0.0, deadline - time.monotonic()))):
        if stop_requested():
            from llmspell.runtime.errors import Interrupted

            raise Interrupted("interrupted")
        if time.monotonic() >= deadline:
            call.error = f"timed out after {timeout_ms} ms"
            call.value, call.finished = None, time.monotonic()
            return
    if failure:
        raise failure[0]
