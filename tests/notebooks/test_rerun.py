"""An example notebook run twice on the same (default SQLite) storage shows the same results:
each starts from its own clean slate instead of adding to what the last run left."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from test_headless_runs import execute, headless_env, kernel_path, text_of

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# What differs between any two runs: ids, times, durations, event log positions.
VOLATILE = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<id>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)"), "<time>"),
    (re.compile(r"\d+(?:\.\d+)?\s?(?:ms|µs|ns|s)\b"), "<duration>"),
    (re.compile(r"(duration_ms|elapsed_ms|offset_ms|ms) = [\d.e-]+"), r"\1 = <n>"),
    (re.compile(r"sequence = \d+"), "sequence = <n>"),  # the event log's, tenant-wide
]
pytestmark = pytest.mark.slow
__all__ = ["kernel_path"]  # the fixture, imported for this module


# Progress displays of long work (a workflow or an ingest past a second): whether one shows
# depends on how busy the machine is, not on what the notebook computes.
PROGRESS = re.compile(r"^(Workflow \S+: \d+(/\d+)? steps done|RAG\.ingest: \d+/\d+ chunks stored)")


def is_progress(output: dict[str, Any]) -> bool:
    text = output.get("data", {}).get("text/plain", "")
    return output["output_type"] in ("display_data", "update_display_data") and bool(
        PROGRESS.match(text if isinstance(text, str) else "".join(text))
    )


def outputs(cells: list[dict[str, Any]]) -> list[list[str]]:
    shown = []
    for cell in cells:
        texts = []
        for output in cell.get("outputs", []):
            if is_progress(output):
                continue
            text = text_of(output) if output["output_type"] != "display_data" else ""
            for pattern, placeholder in VOLATILE:
                text = pattern.sub(placeholder, text)
            # lines in sorted order: a parallel workflow lists its steps as they finished
            texts.append("\n".join(sorted(text.splitlines())))
        shown.append(texts)
    return shown


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.name for n in NOTEBOOKS])
def test_a_notebook_run_twice_on_the_same_storage_shows_the_same(
    notebook: Path, kernel_path: Path, tmp_path: Path
) -> None:
    env = headless_env(kernel_path, tmp_path / "home", LLMSPELL_PROFILE="default")
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    first = outputs(execute(notebook, tmp_path / "first", env))
    second = outputs(execute(notebook, tmp_path / "second", env))
    assert second == first
