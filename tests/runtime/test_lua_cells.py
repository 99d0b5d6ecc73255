"""A Lua cell's result: the last statement when it is an expression — also after `;` on one
line, the same as on two lines — a trailing `;` hiding it, and `is_complete`; compiled a fixed
number of times whatever the cell's length."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runtime_helpers import error_of, memory_config

from llmspell.runtime import ScriptRuntime
from llmspell.runtime.engines.lua.cells import CellCompiler


@pytest.mark.parametrize(
    ("code", "text"),
    [
        ("x = 1; x", "1"),
        ("x = 1 x", "1"),
        ("local t = {a = 1}; t", "{a = 1}"),
        ("State.save('g', 'k', 7); State.load('g', 'k')", "7"),
        ("print('a'); 1 + 1", "2"),
        ("::top:: 5", "5"),
        ("do end 6", "6"),
        ("for i = 1, 2 do end; 'after'", '"after"'),
        ("x = 'a'\n('b'):upper()", '"B"'),
        ("s = 0 for i = 1, 3 do s = s + i end s", "6"),
        ("f = function() return 4 end; f()", "4"),
        ("t = {f = function() return {g = function() return 8 end} end}; t.f().g()", "8"),
        ("x = 1; x, x + 1", "1, 2"),
        ("x = 2 --[[ c ]] ; x -- trailing", "2"),
    ],
)
def test_the_last_statement_after_a_semicolon_is_the_result(
    lua: ScriptRuntime, code: str, text: str
) -> None:
    result = lua.execute(code)
    assert result.has_value is True
    assert result.bundle["text/plain"] == text


@pytest.mark.parametrize(
    ("one_line", "two_lines"),
    [
        ("x = 1; x", "x = 1\nx"),
        (
            "State.save('g', 'k', 'v'); State.load('g', 'k')",
            "State.save('g', 'k', 'v')\nState.load('g', 'k')",
        ),
        ("local a = 2; local b = 3; a * b", "local a = 2\nlocal b = 3\na * b"),
    ],
)
def test_one_line_and_two_lines_show_the_same_value(
    lua: ScriptRuntime, one_line: str, two_lines: str
) -> None:
    first, second = lua.execute(one_line), lua.execute(two_lines)
    assert first.has_value and second.has_value
    assert first.bundle == second.bundle


@pytest.mark.parametrize(
    "code",
    [
        "x = 1; x;",
        "x = 1; y = x",
        "y = 5\nx = 1\n-y",  # Lua reads `x = 1 - y`: one assignment
        "a = {}\n(print)('hi')",  # `a = {}` then a call whose value is nothing
        "local function f() end",
        "if true then x = 1 end",
        "for i = 1, 2 do end",
        "t = {1, 2}",
        "x = function() end",
    ],
)
def test_cells_ending_in_a_statement_show_nothing(lua: ScriptRuntime, code: str) -> None:
    assert lua.execute(code).has_value is False


def test_a_line_that_continues_the_expression_is_not_a_statement(lua: ScriptRuntime) -> None:
    lua.execute("y = 5\nx = y\n- 1")
    assert lua.execute("x").value == 4
    lua.execute("f = function(v) return function() return v end end\ng = f\n('z')")
    assert lua.execute("g()").value == "z"


def test_syntax_errors_are_still_reported_with_their_line(lua: ScriptRuntime) -> None:
    err = error_of(lua, "x = 1\ny = = 2\nx")
    assert err.ename == "LuaError"
    assert ":2:" in err.evalue


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("x = 1; x", "complete"),
        ("x = 1\nx", "complete"),
        ("State.save('g', 'k', 1); State.load('g', 'k')", "complete"),
        ("for i = 1, 3 do", "incomplete"),
        ("x = 1; f(", "incomplete"),
        ("x = = 1", "invalid"),
    ],
)
def test_is_complete_agrees_with_what_the_cell_runs(
    lua: ScriptRuntime, code: str, status: str
) -> None:
    assert lua.is_complete(code).status == status


class CountingCompiler:
    """Counts compilations and the bytes compiled, over the engine's real `compile`."""

    def __init__(self, runtime: ScriptRuntime) -> None:
        self._engine: Any = runtime._engine
        self.calls = 0
        self.bytes = 0

    def compile(self, source: bytes, chunk: bytes) -> Any:
        self.calls += 1
        self.bytes += len(source)
        return self._engine._compile_chunk(source, chunk)

    def cells(self) -> CellCompiler:
        return CellCompiler(self.compile, lambda: None)


SCRIPT_ENDINGS = ["x = 1", "x", "x = 1; x", "print(x)", "for i = 1, 2 do end", "x = = 1"]


@pytest.mark.parametrize("ending", SCRIPT_ENDINGS)
def test_a_long_script_is_compiled_a_fixed_number_of_times(lua: ScriptRuntime, ending: str) -> None:
    lines = [f"v{i % 50} = {i} + math.max({i}, 2) -- step {i}" for i in range(40_000)]
    code = "\n".join(lines) + "\n" + ending + "\n"
    counter = CountingCompiler(lua)
    try:
        counter.cells().compile_cell(code, "long")
    except Exception as exc:  # the syntax error ending
        assert ending == "x = = 1", exc
    # The old line-by-line search compiled a prefix of the script once per line.
    assert counter.calls <= 3
    assert counter.bytes <= 3 * (len(code) + 100)


# Valid cells built from a small grammar: statements, then an expression that never starts with
# what Lua would read as continuing the statement before it (`(`, `{`, a string, an operator).
_first_atoms = st.sampled_from(["a", "b", "1", "2.5", "t.k", "f(1)", "t:m()", "#t"])
_atoms = st.sampled_from(["a", "b", "1", "2.5", "'s'", "t.k", "f(1)", "t:m()", "{1, 2}", "#t"])


@st.composite
def _expressions(draw: st.DrawFn) -> str:
    left = draw(_first_atoms)
    for _ in range(draw(st.integers(0, 2))):
        op = draw(st.sampled_from([" + ", " == ", " ~= ", " and ", " or "]))
        right = draw(_atoms)
        if op == " + ":
            left, right = "1", "a"  # arithmetic only on numbers
        left = f"{left}{op}{right}"
    return left


_statements = st.sampled_from(
    ["a = 1", "b = a + 1", "local c = 3", "t.k = 'v'", "f(2)", "do end", "t:m()", "n = #t"]
)
_separators = st.sampled_from(["; ", "\n", ";\n", " ; "])
_SETUP = "a, b = 1, 2\nt = {k = 'k', m = function() return 'm' end}\nf = function(x) return x end"


@given(
    statements=st.lists(_statements, max_size=4),
    separators=st.lists(_separators, min_size=5, max_size=5),
    expression=_expressions(),
)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_result_is_the_trailing_expression_however_the_cell_is_split(
    statements: list[str], separators: list[str], expression: str
) -> None:
    parts = [*statements, expression]
    cell = "".join(p + (separators[i] if i < len(parts) - 1 else "") for i, p in enumerate(parts))
    explicit = "".join(p + separators[i] for i, p in enumerate(statements)) + f"return {expression}"
    rt = ScriptRuntime(memory_config())
    try:
        rt.execute(_SETUP)
        expected = rt.execute(explicit).value
        rt.execute(_SETUP)
        result = rt.execute(cell)
    finally:
        rt.close()
    assert result.has_value is (expected is not None)
    assert result.value == expected
