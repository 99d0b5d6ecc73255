"""How a workflow result looks in a notebook: a table of its steps (status, attempts, duration,
output summary) and a timeline of when each step ran, drawn here as SVG (no JavaScript), so a
parallel run is visibly parallel."""

from __future__ import annotations

import html
import json
from typing import Any

from llmspell.runtime.display import register_renderer

RESULT_KEYS = {"success", "outputs", "execution_id", "duration_ms", "workflow", "type", "steps"}
SUMMARY_CHARS = 80
BAR_HEIGHT, ROW_GAP, LABEL_WIDTH, PLOT_WIDTH = 14, 6, 140, 420
COLOURS = {"completed": "#3a9d5d", "failed": "#d1495b", "reused": "#9aa5b1"}


def is_workflow_result(value: Any) -> bool:
    """Whether `value` is what `wf:execute` / `wf:resume` return."""
    return (
        isinstance(value, dict)
        and set(value) >= RESULT_KEYS
        and isinstance(value.get("steps"), list)
        and all(isinstance(s, dict) and "name" in s for s in value["steps"])
    )


def workflow_result_html(value: Any) -> str | None:
    """The HTML (table + SVG timeline) of a workflow result; None for any other value."""
    if not is_workflow_result(value):
        return None
    steps: list[dict[str, Any]] = value["steps"]
    status = "succeeded" if value["success"] else "failed"
    head = (
        f"<p><b>{_e(value['workflow'])}</b> ({_e(value['type'])}) {status} in "
        f"{float(value['duration_ms']):.1f} ms &middot; execution <code>"
        f"{_e(value['execution_id'])}</code></p>"
    )
    error = f'<p style="color:#d1495b">{_e(value["error"])}</p>' if value.get("error") else ""
    rows = "".join(_row(step, value["outputs"]) for step in steps)
    table = (
        "<table><thead><tr><th>step</th><th>status</th><th>attempts</th>"
        "<th>duration (ms)</th><th>output</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )
    return f'<div class="llmspell-workflow">{head}{error}{table}{timeline_svg(steps)}</div>'


def _row(step: dict[str, Any], outputs: dict[str, Any]) -> str:
    name = step["name"] + (f" #{step['iteration']}" if step.get("iteration") else "")
    status = step.get("status", "")
    if step.get("reused"):
        status += " (kept)"
    shown = step.get("error") or summary(_output_of(step, outputs))
    return (
        f"<tr><td>{_e(name)}</td><td>{_e(status)}</td><td>{step.get('attempts', 1)}</td>"
        f"<td>{float(step.get('duration_ms', 0)):.1f}</td><td>{_e(shown)}</td></tr>"
    )


def _output_of(step: dict[str, Any], outputs: dict[str, Any]) -> Any:
    output = outputs.get(step["name"])
    if step.get("iteration") and isinstance(output, list):
        index = int(step["iteration"]) - 1
        output = output[index] if 0 <= index < len(output) else None
    if isinstance(output, dict) and "result" in output:
        return output["result"]
    return output


def summary(value: Any) -> str:
    """A one-line, bounded preview of a value."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


def timeline_svg(steps: list[dict[str, Any]]) -> str:
    """One bar per step that ran in this call, placed by its start and length in time."""
    ran = sorted((s for s in steps if not s.get("reused")), key=lambda s: float(s["offset_ms"]))
    if not ran:
        return ""
    end = max(float(s["offset_ms"]) + float(s["duration_ms"]) for s in ran) or 1.0
    height = len(ran) * (BAR_HEIGHT + ROW_GAP) + 20
    width = LABEL_WIDTH + PLOT_WIDTH + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="11" role="img" aria-label="step timeline">'
    ]
    for i, step in enumerate(ran):
        y = i * (BAR_HEIGHT + ROW_GAP)
        x = LABEL_WIDTH + float(step["offset_ms"]) / end * PLOT_WIDTH
        w = max(float(step["duration_ms"]) / end * PLOT_WIDTH, 1.5)
        colour = COLOURS.get(step.get("status", ""), COLOURS["reused"])
        label = step["name"] + (f" #{step['iteration']}" if step.get("iteration") else "")
        parts.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + BAR_HEIGHT - 3}" text-anchor="end">'
            f"{_e(label)}</text>"
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{BAR_HEIGHT}" fill="{colour}">'
            f"<title>{_e(label)}: {float(step['duration_ms']):.1f} ms</title></rect>"
        )
    axis_y = len(ran) * (BAR_HEIGHT + ROW_GAP) + 12
    parts.append(
        f'<text x="{LABEL_WIDTH}" y="{axis_y}">0 ms</text>'
        f'<text x="{LABEL_WIDTH + PLOT_WIDTH}" y="{axis_y}" text-anchor="end">{end:.1f} ms</text>'
        "</svg>"
    )
    return "".join(parts)


def progress_bundle(
    workflow: str, finished: int, total: int | None, running: str | None
) -> dict[str, Any]:
    """The display of a run that has finished `finished` steps of `total` (None: not known
    ahead, a loop or a branch) and is running step `running` (None: between steps)."""
    count = f"{finished}/{total}" if total is not None else str(finished)
    text = f"Workflow {workflow}: {count} steps done" + (f", running {running}" if running else "")
    bar = (
        f'<progress value="{finished}" max="{total}" style="width: 20em"></progress> '
        if total
        else ""
    )
    return {"text/plain": text, "text/html": f"{bar}{_e(text)}"}


def _as_bundle(markup: str | None) -> dict[str, Any] | None:
    return None if markup is None else {"text/html": markup}


def _e(value: Any) -> str:
    return html.escape(str(value))


register_renderer(lambda value: _as_bundle(workflow_result_html(value)))
