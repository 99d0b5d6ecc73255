"""System tools: `environment-reader` (environment variables, never ones that look like
secrets) and `system-monitor` (load, memory, disk, uptime of the host, from the standard
library and /proc)."""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from llmspell.runtime.tools.json_schema import SchemaProblem, compile_pattern
from llmspell.runtime.tools.registry import Tool, ToolFailure

# A variable whose name has one of these words is withheld: API keys, passwords, tokens,
# connection strings carrying credentials.
_SECRET_NAME = re.compile(
    r"KEY|TOKEN|SECRET|PASSW|PASSPHRASE|CREDENTIAL|AUTH|PRIVATE|COOKIE|SESSION|SIGNATURE|"
    r"CERT|DSN|DATABASE_URL|CONN|_URI|PGPASS",
    re.IGNORECASE,
)
# A value that carries credentials (scheme://user:password@host) is withheld too.
_CREDENTIAL_VALUE = re.compile(r"://[^/\s:@]+:[^/\s@]+@")
ENV_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "operation": {"enum": ["get", "list", "exists"]},
        "name": {"type": "string", "minLength": 1, "maxLength": 256},
        "pattern": {"type": "string", "minLength": 1},
        "default": {"type": "string"},
    },
    "additionalProperties": False,
    "allOf": [
        {
            "if": {"properties": {"operation": {"enum": ["get", "exists"]}}},
            "then": {"required": ["name"]},
        }
    ],
}


def is_withheld(name: str, value: str) -> bool:
    """Whether a variable may look like a secret, so the tool never shows it."""
    return bool(_SECRET_NAME.search(name) or _CREDENTIAL_VALUE.search(value))


def read_environment(params: dict[str, Any]) -> dict[str, Any]:
    operation = params.get("operation", "get" if "name" in params else "list")
    if operation == "list":
        matcher = None
        if "pattern" in params:
            try:
                matcher = compile_pattern(params["pattern"])
            except SchemaProblem as exc:
                raise ToolFailure(f"pattern {exc}") from None
        shown = {
            name: value
            for name, value in sorted(os.environ.items())
            if not is_withheld(name, value) and (matcher is None or matcher.search(name))
        }
        return {"variables": shown, "count": len(shown)}
    if operation == "get" and "name" not in params:
        raise ToolFailure("get needs the parameter 'name' (the variable to read)")
    name = params["name"]
    value = os.environ.get(name)
    if value is not None and is_withheld(name, value):
        raise ToolFailure(
            f"{name!r} is withheld: environment-reader never shows variables that may hold "
            "secrets (keys, tokens, passwords, credentials in URLs)"
        )
    if operation == "exists":
        return {"name": name, "exists": value is not None}
    if value is None and "default" not in params:
        raise ToolFailure(f"environment variable {name!r} is not set")
    return {"name": name, "value": params.get("default") if value is None else value}


ENVIRONMENT_READER = Tool(
    name="environment-reader",
    description="Reads environment variables (get, list with an RE2 name pattern, exists); "
    "variables that may hold secrets are never shown",
    category="system",
    schema=ENV_SCHEMA,
    run=read_environment,
    tags=("system", "environment", "offline"),
    aliases={"key": "name", "filter": "pattern"},
)

METRICS = ("cpu", "memory", "disk", "uptime", "process")
MONITOR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "operation": {"enum": ["get_metrics", "get_all"]},
        "metrics": {"type": "array", "items": {"enum": list(METRICS)}, "minItems": 1},
    },
    "additionalProperties": False,
}


def monitor(params: dict[str, Any]) -> dict[str, Any]:
    wanted = METRICS if params.get("operation") == "get_all" else params.get("metrics", METRICS)
    readers = {
        "cpu": _cpu,
        "memory": _memory,
        "disk": _disk,
        "uptime": _uptime,
        "process": _process,
    }
    return {name: readers[name]() for name in wanted}


def _cpu() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    cores = os.cpu_count() or 1
    return {
        "cores": cores,
        "load_average": list(load),
        "usage": round(min(100.0, load[0] / cores * 100), 1),  # from the 1-minute load
    }


def _memory() -> dict[str, Any]:
    info = _meminfo()
    total, available = info.get("MemTotal"), info.get("MemAvailable")
    if total is None or available is None:
        return {"available": False}
    used = total - available
    return {
        "total_bytes": total,
        "available_bytes": available,
        "used_bytes": used,
        "usage_percent": round(used / total * 100, 1) if total else 0.0,
    }


def _meminfo() -> dict[str, int]:
    try:
        lines = Path("/proc/meminfo").read_text().splitlines()
    except OSError:
        return {}
    values = {}
    for line in lines:
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[name] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    return values


def _disk() -> dict[str, Any]:
    usage = shutil.disk_usage(os.path.abspath(os.sep))
    return {
        "total_bytes": usage.total,
        "used_bytes": usage.used,
        "free_bytes": usage.free,
        "usage_percent": round(usage.used / usage.total * 100, 1) if usage.total else 0.0,
    }


def _uptime() -> dict[str, Any]:
    try:
        seconds = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return {"available": False}
    return {"seconds": round(seconds, 1)}


def _process() -> dict[str, Any]:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return {
        "pid": os.getpid(),
        "max_rss_bytes": usage.ru_maxrss * scale,
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
        "time": time.time(),
    }


SYSTEM_MONITOR = Tool(
    name="system-monitor",
    description="The host's CPU load, memory, disk, uptime and this process's usage",
    category="system",
    schema=MONITOR_SCHEMA,
    run=monitor,
    tags=("system", "monitoring", "offline"),
)
