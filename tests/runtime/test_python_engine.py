"""What the Python engine does like ipykernel: `sys.exit` ends the cell, not the host; rich
`_repr_*_` output; module-name completion after `import`; input() errors in Python's words."""

from __future__ import annotations

import base64
import sys

import pytest
from runtime_helpers import error_of

from llmspell.runtime import ScriptRuntime
from llmspell.runtime.results import ScriptExit


@pytest.mark.parametrize(
    ("code", "status", "evalue"),
    [
        ("import sys\nsys.exit(3)", 3, "3"),
        ("raise SystemExit", 0, ""),
        ("import sys\nsys.exit('bye')", 1, "bye"),
    ],
)
def test_sys_exit_is_a_script_error_and_the_runtime_stays_usable(
    py: ScriptRuntime, code: str, status: int, evalue: str
) -> None:
    py.execute("keep = 42")
    err = error_of(py, code)
    assert isinstance(err, ScriptExit)
    assert (err.ename, err.evalue, err.status) == ("SystemExit", evalue, status)
    assert py.execute("keep").value == 42


def test_input_without_stdin_is_an_eof_error_naming_input(py: ScriptRuntime) -> None:
    err = error_of(py, "input('name? ')")
    assert err.ename == "EOFError"
    assert err.evalue == "input: no input is available (the script runs without stdin)"


# --- rich display -------------------------------------------------------------------------------

RICH_CLASSES = """
class Html:
    def _repr_html_(self):
        return "<b>html</b>"
    def __repr__(self):
        return "Html()"

class Everything:
    def _repr_markdown_(self):
        return "**md**"
    def _repr_svg_(self):
        return "<svg/>"
    def _repr_png_(self):
        return b"\\x89PNG"
    def _repr_json_(self):
        return {"a": 1}
    def _repr_latex_(self):
        return ("$x$", {"note": "metadata is dropped"})
    def _repr_html_(self):
        return None  # None means: not offered

class OnlyJson:
    def _repr_json_(self):
        return [1, 2]

class Bundle:
    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/html": "<i>bundle</i>", "text/plain": "Bundle!"}
    def _repr_html_(self):
        return "<i>loses to the bundle</i>"

class Broken:
    def _repr_html_(self):
        raise RuntimeError("no html today")
    def _repr_markdown_(self):
        return "still *here*"
    def __repr__(self):
        return "Broken()"
"""


@pytest.fixture
def rich(py: ScriptRuntime) -> ScriptRuntime:
    py.execute(RICH_CLASSES)
    return py


def test_repr_html_is_shown_as_html_with_the_repr_as_text(rich: ScriptRuntime) -> None:
    assert rich.execute("Html()").bundle == {"text/html": "<b>html</b>", "text/plain": "Html()"}


def test_every_repr_method_gives_its_mime_type(rich: ScriptRuntime) -> None:
    bundle = rich.execute("Everything()").bundle
    assert bundle.pop("text/plain").startswith("<__llmspell__.Everything object")
    assert bundle == {
        "text/markdown": "**md**",
        "image/svg+xml": "<svg/>",
        "image/png": base64.b64encode(b"\x89PNG").decode(),
        "text/latex": "$x$",
    }, "no application/json: Lab would show its tree in place of the pictures"


def test_json_is_kept_when_an_object_offers_nothing_else_to_look_at(rich: ScriptRuntime) -> None:
    assert rich.execute("OnlyJson()").bundle["application/json"] == [1, 2]


def test_repr_mimebundle_wins_over_single_methods(rich: ScriptRuntime) -> None:
    assert rich.execute("Bundle()").bundle == {
        "text/html": "<i>bundle</i>",
        "text/plain": "Bundle!",
    }


def test_a_failing_repr_method_is_reported_and_skipped(rich: ScriptRuntime) -> None:
    result = rich.execute("Broken()")
    assert result.bundle == {"text/markdown": "still *here*", "text/plain": "Broken()"}
    assert result.stderr == "_repr_html_ of Broken failed: RuntimeError: no html today\n"


def test_display_uses_the_repr_methods_too(rich: ScriptRuntime) -> None:
    assert rich.execute("display(Html())").displays == [
        {"text/html": "<b>html</b>", "text/plain": "Html()"}
    ]


def test_a_class_with_repr_methods_shows_as_a_class(rich: ScriptRuntime) -> None:
    assert rich.execute("Html").bundle == {"text/plain": "<class '__llmspell__.Html'>"}


# --- completion of module names ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected", "start"),
    [
        ("import o", "os", 7),
        ("import sys, js", "json", 12),
        ("import os.pa", "os.path", 7),
        ("from json.de", "json.decoder", 5),
        ("from os import pa", "path", 15),
        ("from collections import (Ord", "OrderedDict", 25),
        ("x = 1\nimport jso", "json", 13),
    ],
)
def test_import_lines_complete_module_names(
    py: ScriptRuntime, code: str, expected: str, start: int
) -> None:
    completion = py.complete(code)
    assert expected in completion.matches
    assert all(m.startswith(code[start:]) for m in completion.matches)
    assert (completion.cursor_start, completion.cursor_end) == (start, len(code))


def test_import_completion_offers_no_global_names(py: ScriptRuntime) -> None:
    assert "open" not in py.complete("import o").matches
    assert py.complete("import os as o").matches == []


def test_completing_a_module_name_does_not_import_it(py: ScriptRuntime) -> None:
    assert "antigravity" in py.complete("import antigr").matches
    assert "antigravity" not in sys.modules
