"""`BeforeCodeExecution` / `AfterCodeExecution` around every cell or script a runtime runs.

A before-hook sees `{code, name, engine}` and may replace the code (`modified`) or stop the run
(`cancel`: the run fails with `<name>: cancelled by hook: <reason>`). An after-hook sees
`{code, name, engine, success, error, result, duration_ms}`; on success a `modified` result
replaces the cell's value, a `cancel` fails the run after the code has run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from llmspell.runtime.display import data_bundle
from llmspell.runtime.errors import ScriptStopping
from llmspell.runtime.hooks.registry import HookCancelled, HookRegistry, new_id
from llmspell.runtime.results import ScriptError

COMPONENT = "runtime"
Outcome = tuple[bool, Any, dict[str, Any]]  # what an engine's execute returns


def execute_with_hooks(
    hooks: HookRegistry,
    engine: str,
    code: str,
    name: str,
    execute: Callable[[str], Outcome],
) -> Outcome:
    """`execute(code)` between the code-execution hooks (just `execute(code)` when none are
    registered). Runs on the script's thread, where script callbacks may be called. Hooks
    registered while the code runs apply from the next run on."""
    run_before = bool(hooks.hooks("BeforeCodeExecution"))
    run_after = bool(hooks.hooks("AfterCodeExecution"))
    if not run_before and not run_after:
        return execute(code)
    correlation_id = new_id()
    data = {"code": code, "name": name, "engine": engine}
    changed: Any = data
    if run_before:
        changed = _guarded(
            name, lambda: hooks.run("BeforeCodeExecution", COMPONENT, data, correlation_id)
        )
    if not isinstance(changed, dict) or not isinstance(changed.get("code"), str):
        raise ScriptError(
            "ValidationError",
            f"{name}: a BeforeCodeExecution hook modified the data to {_show(changed)}; "
            "it must keep `code` a string",
        )
    code = changed["code"]
    started = time.perf_counter()
    try:
        has_value, value, bundle = execute(code)
    except ScriptError as exc:
        after = {**data, "code": code, "success": False, "error": f"{exc.ename}: {exc.evalue}"}
        after.update(result=None, duration_ms=round((time.perf_counter() - started) * 1000, 3))
        if run_after:
            _guarded(
                name, lambda: hooks.run("AfterCodeExecution", COMPONENT, after, correlation_id)
            )
        raise
    if not run_after:
        return has_value, value, bundle
    after = {**data, "code": code, "success": True, "error": None}
    after.update(
        result=value if has_value else None,
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
    )
    final = _guarded(
        name, lambda: hooks.run("AfterCodeExecution", COMPONENT, after, correlation_id)
    )
    if isinstance(final, dict) and final.get("result") != after["result"]:
        value = final.get("result")
        if value is None:
            return False, None, {}
        text = json.dumps(value, ensure_ascii=False, default=str)
        return True, value, data_bundle(value, text)
    return has_value, value, bundle


def _guarded(name: str, run: Callable[[], Any]) -> Any:
    try:
        return run()
    except HookCancelled as exc:
        raise ScriptError(exc.ename, f"{name}: {exc}") from None
    except ScriptStopping:
        # A script callback was stopped by an interrupt: the run ends as an interrupted cell.
        raise ScriptError("KeyboardInterrupt", "execution interrupted") from None


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)[:200]
