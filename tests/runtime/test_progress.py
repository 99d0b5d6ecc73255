"""Progress of long work: a workflow run and a RAG ingest of more than one batch show one
display that updates in place (a workflow once it has gone on for a while); quick ones add
nothing."""

from __future__ import annotations

import pytest

from llmspell.runtime import ScriptRuntime
from llmspell.runtime.api import workflow_objects

THREE_STEPS = """
wf = Workflow.sequential{name = "pipeline", steps = {
  {name = "fetch", fn = function() return 1 end},
  {name = "summarise", fn = function() return 2 end},
  {name = "store", fn = function() return 3 end}}}
"""


def test_a_long_workflow_run_shows_one_progress_display_updated_to_the_end(
    lua: ScriptRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workflow_objects, "PROGRESS_AFTER_S", 0.0)
    lua.execute(THREE_STEPS)
    seen: list[str] = []
    monkeypatch.setattr(
        workflow_objects.rendering,
        "progress_bundle",
        _recording(workflow_objects.rendering.progress_bundle, seen),
    )
    result = lua.execute("return wf:execute().success")
    assert result.value is True
    # one display (updates replace it), showing the finished run
    [display] = result.displays
    assert display["text/plain"] == "Workflow pipeline: 3/3 steps done"
    assert '<progress value="3" max="3"' in display["text/html"]
    assert seen == [
        "Workflow pipeline: 0/3 steps done, running fetch",
        "Workflow pipeline: 1/3 steps done",
        "Workflow pipeline: 1/3 steps done, running summarise",
        "Workflow pipeline: 2/3 steps done",
        "Workflow pipeline: 2/3 steps done, running store",
        "Workflow pipeline: 3/3 steps done",
    ]


def test_a_loop_shows_steps_done_without_a_total(
    lua: ScriptRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workflow_objects, "PROGRESS_AFTER_S", 0.0)
    result = lua.execute(
        'return Workflow.loop{name = "again", range = {start = 1, stop = 2}, max_iterations = 5,'
        ' body = {{name = "tick", fn = function() return 1 end}}}:execute().success'
    )
    assert result.value is True
    [display] = result.displays
    assert display["text/plain"] == "Workflow again: 2 steps done"
    assert "<progress" not in display["text/html"]


def test_a_quick_workflow_run_adds_no_output(
    lua: ScriptRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workflow_objects, "PROGRESS_AFTER_S", 600.0)
    lua.execute(THREE_STEPS)
    result = lua.execute("return wf:execute().success")
    assert result.value is True and result.displays == []


def _recording(render, seen):  # type: ignore[no-untyped-def]
    def render_and_note(*args):  # type: ignore[no-untyped-def]
        bundle = render(*args)
        seen.append(bundle["text/plain"])
        return bundle

    return render_and_note


LONG_TEXT = "\\n\\n".join(
    f"Paragraph {i} says the ferry number {i} leaves at noon." for i in range(900)
)


def test_a_large_rag_ingest_shows_one_progress_display_updated_to_the_end(
    lua: ScriptRuntime,
) -> None:
    result = lua.execute(
        f'return RAG.ingest({{content = "{LONG_TEXT}"}}, {{chunk_size = 16, chunk_overlap = 0}})'
    )
    chunks = result.value["chunks_created"]
    assert chunks > 256, "more than one batch, or no progress is shown"
    [display] = result.displays
    assert display["text/plain"] == f"RAG.ingest: {chunks}/{chunks} chunks stored (100%)"
    assert f'<progress value="{chunks}" max="{chunks}"' in display["text/html"]


def test_a_small_rag_ingest_adds_no_output(lua: ScriptRuntime) -> None:
    result = lua.execute('return RAG.ingest({content = "A short note about ferries."})')
    assert result.value["chunks_created"] == 1 and result.displays == []
