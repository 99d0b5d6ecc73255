"""What scripts read: Lua names in messages, whole sentences in help(), rounded durations in
hook history, a graph picture without empty margins."""

from __future__ import annotations

import pytest
from runtime_helpers import error_of

from llmspell.runtime import ScriptRuntime


@pytest.mark.parametrize(
    ("code", "quoted"),
    [
        ("Artifact.get(nil, nil)", "got nil"),
        ("Workflow.create(nil)", "got nil"),
        ('Memory.semantic.add_entity{name = "a", type = "b", valid_from = true}', "got true"),
    ],
)
def test_lua_messages_name_nil_and_booleans_as_lua_does(
    lua: ScriptRuntime, code: str, quoted: str
) -> None:
    message = error_of(lua, code).evalue
    assert quoted in message
    assert not any(word in message for word in ("None", "True", "False")), message


def test_python_messages_keep_pythons_names(py: ScriptRuntime) -> None:
    assert "got None" in error_of(py, "Workflow.create(None)").evalue


def test_help_lists_whole_first_sentences_wrapped_under_their_column(lua: ScriptRuntime) -> None:
    overview = lua.docs.overview()  # what help() prints
    lines = overview.splitlines()
    assert all(len(line) <= 100 for line in lines if not line.lstrip().startswith(("ARGS", "arg")))
    tool = overview.split("  Tool ", 1)[1].split("\n  Widget", 1)[0].split("\n  Workflow", 1)[0]
    assert " ".join(tool.split()).endswith("and tools registered by scripts."), tool
    memory = lua.docs.get("Memory")
    assert memory is not None
    consolidate = memory.doc.split("Memory.consolidate(options?, force?)", 1)[1].split(
        "\n  Memory.", 1
    )[0]
    assert " ".join(consolidate.split()).endswith("entities, properties and relationships.")


def test_first_sentence_does_not_stop_at_e_g_or_a_dotted_name() -> None:
    from llmspell.runtime.api.docs import first_sentence

    assert first_sentence("Use `Agent.builder()`, e.g. for a\nmock. More here.") == (
        "Use `Agent.builder()`, e.g. for a mock."
    )
    assert first_sentence("No full stop\n\nSecond paragraph.") == "No full stop"


def test_hook_history_durations_are_rounded_to_microseconds(lua: ScriptRuntime) -> None:
    lua.execute('Hook.register("BeforeStateWrite", function() end)\nState.save("g", "k", 1)')
    (entry,) = lua.execute("return Hook.history{limit = 1}").value
    assert entry["duration_ms"] == round(entry["duration_ms"], 3)
    assert len(repr(entry["duration_ms"]).split(".")[-1]) <= 3


def test_the_graph_drawing_is_as_large_as_what_it_draws() -> None:
    from llmspell.runtime.display.graph import neighbourhood_svg

    svg = neighbourhood_svg(
        [{"id": "b", "name": "Acme", "depth": 1}],
        [{"from": "a", "to": "b", "type": "works_at"}],
    )
    width, height = (
        float(svg.split(f'{side}="', 1)[1].split('"')[0]) for side in ("width", "height")
    )
    assert width < 200 and height < 230, (width, height)  # was a 420 x 420 square
    left, top, view_w, view_h = map(float, svg.split('viewBox="', 1)[1].split('"')[0].split())
    assert (view_w, view_h) == (width, height)
    # every circle lies inside the view
    for cx, cy in zip(
        (float(p.split('"')[0]) for p in svg.split('cx="')[1:]),
        (float(p.split('"')[0]) for p in svg.split('cy="')[1:]),
        strict=True,
    ):
        assert left <= cx <= left + view_w and top <= cy <= top + view_h
