"""Reports over `Debug` timers (readable text, folded stacks for flame graphs) and the host
process's memory figures."""

from __future__ import annotations

import resource
from typing import Any


def performance_text(timers: list[dict[str, Any]]) -> str:
    """Each timer record (`{name, elapsed_ms, running, laps, events}`) with its laps and events."""
    lines = ["Performance report"]
    for t in timers:
        state = "running" if t["running"] else "stopped"
        lines.append(f"  {t['name']}: {t['elapsed_ms']:.3f} ms ({state})")
        lines += [f"    lap {lap['name']}: {lap['elapsed_ms']:.3f} ms" for lap in t["laps"]]
        for event in t["events"]:
            lines.append(f"    event {event['name']} at {event['elapsed_ms']:.3f} ms")
    if len(lines) == 1:
        lines.append("  no timers (Debug.timer(name) starts one)")
    return "\n".join(lines) + "\n"


def folded_stacks(timers: list[dict[str, Any]]) -> str:
    """A line `timer <µs>` per timer and `timer;lap <µs>` per lap (time since the lap before)."""
    lines = []
    for t in timers:
        lines.append(f"{_frame(t['name'])} {round(t['elapsed_ms'] * 1000)}")
        previous = 0.0
        for lap in t["laps"]:
            micros = round((lap["elapsed_ms"] - previous) * 1000)
            lines.append(f"{_frame(t['name'])};{_frame(lap['name'])} {micros}")
            previous = lap["elapsed_ms"]
    return "".join(line + "\n" for line in lines)


def memory_stats() -> dict[str, int]:
    """`{used_bytes (resident now), allocated_bytes (peak resident)}` of this process."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"used_bytes": _resident_bytes() or peak, "allocated_bytes": peak}


def _frame(name: str) -> str:
    # folded stacks separate frames with ";" and the count with a space
    return name.replace(";", ":").replace(" ", "_").replace("\n", "_")


def _resident_bytes() -> int | None:
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return None
