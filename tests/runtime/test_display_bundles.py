"""What a notebook shows first: no rich output carries application/json, which JupyterLab and
VS Code rank above text/html and images (the table or picture would show as a JSON tree)."""

from __future__ import annotations

from typing import Any

import pytest

from llmspell.runtime import ScriptRuntime

SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"><rect width="20"/></svg>'
SETUP = f"""
s = Session.create{{name = "shown"}}
Session.set_current(s)
Artifact.store(s, "user_input", "notes.txt", "hello", {{mime_type = "text/plain"}})
logo = Artifact.store(s, "system_generated", "logo.svg", [[{SVG}]], {{mime_type = "image/svg+xml"}})
Hook.register("BeforeStateWrite", function(ctx) return "continue" end)
State.save("global", "k", 1)
pipe = Workflow.sequential{{name = "pipe", steps = {{
  {{name = "calc", type = "tool", tool = "calculator", input = {{input = "1 + 1"}}}},
}}}}
"""
# (cell, the mime type that must carry the picture)
CASES = {
    "array": ("{1, 2}", "text/plain"),
    "nested table": ("{a = {1, 2}, b = true}", "text/plain"),
    "records": ("{{n = 1, name = 'a'}, {n = 2, name = 'b'}}", "text/html"),
    "display of records": ("display{{n = 1}, {n = 2}}", "text/html"),
    "Tool.list": ("Tool.list()", "text/html"),
    "Artifact.list": ("Artifact.list(s)", "text/html"),
    "svg artifact": ("Artifact.get(s, logo)", "image/svg+xml"),
    "Hook.history": ("Hook.history{point = 'BeforeStateWrite'}", "text/html"),
    "Session.list": ("Session.list()", "text/html"),
    "workflow result": ("pipe:execute{}", "text/html"),
}


@pytest.fixture(scope="module")
def shown() -> Any:
    from llmspell.runtime.config import load_config

    rt = ScriptRuntime(load_config(profile="memory").config)
    rt.execute(SETUP)
    yield rt
    rt.close()


@pytest.mark.parametrize("case", list(CASES))
def test_rich_output_has_its_picture_and_no_json_tree(shown: ScriptRuntime, case: str) -> None:
    code, mime = CASES[case]
    result = shown.execute(code)
    bundles = result.displays + ([result.bundle] if result.has_value else [])
    assert len(bundles) == 1, result
    bundle = bundles[0]
    assert bundle.get(mime), bundle
    assert "application/json" not in bundle, "Lab would show a JSON tree instead"
