"""One sandbox attempt in a process of its own (run by test_sandbox_escapes.py): build a runtime,
run the attempt, print what happened as one JSON line, close the runtime and exit. A crash, a
hang or a hang at exit shows up in the parent as a signal or as its hard limit."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from llmspell.runtime import ScriptError, ScriptRuntime, load_config
from llmspell.runtime.errors import ScriptStopping


def run(spec: dict[str, Any]) -> dict[str, Any]:
    work = Path(spec["dir"])
    for relative, text in spec.get("files", {}).items():
        path = work / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, list):  # bytes as a list of ints
            path.write_bytes(bytes(text))
        else:
            path.write_text(text)
    for link, target in spec.get("links", {}).items():
        (work / link).symlink_to(work / target)
    overrides = {f"engines.{spec['engine']}.timeout_s": spec["timeout_s"], **spec.get("config", {})}
    config = load_config(profile="memory", env={}, overrides=overrides).config
    runtime = ScriptRuntime(config, engine=spec["engine"])
    if spec.get("setup"):
        runtime.execute(spec["setup"])
    if spec.get("interrupt_after"):
        # the real signal, as Ctrl-C or the kernel's interrupt sends it
        timer = threading.Timer(spec["interrupt_after"], os.kill, (os.getpid(), signal.SIGINT))
        timer.daemon = True
        timer.start()
    started = time.monotonic()
    outcome: dict[str, Any]
    try:
        action = spec.get("action", "execute")
        if action == "complete":
            value: Any = runtime.complete(spec["code"]).matches
        elif action == "inspect":
            page = runtime.inspect(spec["code"])
            value = page["text/plain"] if page else None
        elif action == "stream":
            value = runtime.execute(spec["code"]).value.next()
        else:
            name = str(work / spec["script"]) if spec.get("script") else "script"
            value = runtime.execute(spec["code"], name=name).value
        outcome = {"ok": True, "value": repr(value)}
    except ScriptError as exc:
        outcome = {"ok": False, "ename": exc.ename, "evalue": exc.evalue}
    except ScriptStopping as exc:
        outcome = {"ok": False, "ename": getattr(exc, "ename", ""), "evalue": str(exc)}
    outcome["elapsed"] = time.monotonic() - started
    runtime.close()
    return outcome


if __name__ == "__main__":
    result = run(json.loads(sys.stdin.read()))
    print(json.dumps(result), flush=True)
