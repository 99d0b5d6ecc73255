"""What the Python engine does like ipykernel: `sys.exit` ends the cell, not the host; rich
`_repr_*_` output; module-name completion after `import`; input() errors in Python's words."""

from __future__ import annotations

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
