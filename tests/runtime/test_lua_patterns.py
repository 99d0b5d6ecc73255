"""The bounded string functions (runtime/engines/lua/bounded.lua): the Lua port of the pattern
matcher gives exactly the C matcher's results and errors, and the library functions scripts
call agree with the C functions, argument errors included."""

from __future__ import annotations

from importlib import resources
from typing import Any

import lupa.lua54 as lupa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from runtime_helpers import error_of

from llmspell.runtime import ScriptRuntime

SETUP = """
local source = ...
return load(source, "=llmspell", "t")({
  find = string.find, match = string.match, gmatch = string.gmatch, gsub = string.gsub,
  rep = string.rep, byte = string.byte, char = string.char, sub = string.sub,
  format = string.format, move = table.move, insert = table.insert, remove = table.remove,
  sort = table.sort, concat = table.concat, unpack = table.unpack, getinfo = debug.getinfo,
  getmetatable = debug.getmetatable, error = error,
})
"""

# Runs one call both ways and returns the two outcomes as comparable text (error positions
# left out: the harness calls the two differently).
COMPARE = """
local ported, name, s, p, init, repl = ...
local function outcome(f)
  local r = table.pack(pcall(f))
  if not r[1] then r[2] = tostring(r[2]):gsub("^[^:]+:%d+: ", "") end
  for i = 1, r.n do r[i] = tostring(r[i]) end
  return table.concat(r, "|", 1, r.n)
end
local function calls(fns)
  if name == "gmatch" then
    return function()
      local out = {}
      for a, b in fns.gmatch(s, p, init) do
        out[#out + 1] = tostring(a) .. "/" .. tostring(b)
        if #out > 20 then break end
      end
      return table.concat(out, ";")
    end
  elseif name == "gsub" then
    return function() return fns.gsub(s, p, repl, init) end
  end
  return function() return fns[name](s, p, init) end
end
return outcome(calls(string)), outcome(calls(ported))
"""


@pytest.fixture(scope="module")
def bare_lua() -> Any:
    """A plain Lua state with the C functions, and bounded.lua's port next to them."""
    lua = lupa.LuaRuntime(encoding=None)
    source = resources.files("llmspell.runtime.engines.lua").joinpath("bounded.lua").read_bytes()
    bounded = lua.execute(SETUP, source)
    return lua, bounded[b"ported"], lua.compile(COMPARE)


ATOMS = [
    "a", "b", ".", "%a", "%d", "%s", "%w", "%A", "[ab]", "[^a]", "[a-c]", "[%a_]", "[]]", "%%",
    "%.", "%b()", "%f[%w]", "%f[%W]", "(", ")", "()", "%1", "%2", "$", "^", "-", "*", "?", "+",
    "x", "]", "%",
]  # fmt: skip
SUBJECTS = ["", "a", "ab", "aab(b)c", "abc abc", "((a)b)", " x1 y2 ", "aaa$", "^ab", "a.b-c", "]]a"]
REPLACEMENTS = ["<%0>", "%1-", "%%", "%9", "x", "%"]


@given(
    name=st.sampled_from(["find", "match", "gmatch", "gsub"]),
    pattern=st.lists(st.sampled_from(ATOMS), min_size=1, max_size=7).map("".join),
    subject=st.sampled_from(SUBJECTS),
    init=st.sampled_from([None, 1, 2, -1, 0, 10, -10]),
    replacement=st.sampled_from(REPLACEMENTS),
)
@settings(max_examples=1000, deadline=None)
def test_the_ported_matcher_agrees_with_the_c_matcher(
    bare_lua: Any, name: str, pattern: str, subject: str, init: int | None, replacement: str
) -> None:
    _, ported, compare = bare_lua
    count = None if init is None or init < 0 else init  # gsub's 4th argument: a count
    extra = count if name == "gsub" else init
    c, port = compare(ported, name.encode(), subject.encode(), pattern.encode(), extra,
                      replacement.encode())  # fmt: skip
    assert port == c


def test_the_ported_gsub_calls_functions_and_indexes_tables_like_c(bare_lua: Any) -> None:
    lua, ported, _ = bare_lua
    check = lua.eval(
        """function(ported)
          local f = function(w) if w == "b" then return nil end return "<" .. w .. ">" end
          local t = setmetatable({a = 1}, {__index = function(_, k) return k .. k end})
          local x = table.pack(string.gsub("a b c", "%a", f))
          local y = table.pack(ported.gsub("a b c", "%a", f))
          local u = table.pack(string.gsub("a b c", "(%a)", t))
          local v = table.pack(ported.gsub("a b c", "(%a)", t))
          return x[1] == y[1] and x[2] == y[2] and u[1] == v[1] and u[2] == v[2]
        end"""
    )
    assert check(ported) is True


def test_a_catastrophic_pattern_still_finds_its_match(lua: ScriptRuntime) -> None:
    # routed to the port (the C matcher's bound is far past the budget), same answer as C
    code = 'return string.find(string.rep("a", 20), string.rep("a?", 20) .. string.rep("a", 20))'
    assert lua.execute(code).value == [1, 20]


def test_common_patterns_give_the_c_results(lua: ScriptRuntime) -> None:
    code = """
      local text = string.rep("key = value  \\n", 2000)
      local n = 0
      for k, v in text:gmatch("(%w+)%s*=%s*(%w+)") do n = n + 1 end
      local squeezed = text:gsub("%s+", " ")
      local trimmed = ("  padded  "):match("^%s*(.-)%s*$")
      return n, #squeezed, trimmed, ("a,b,,c"):find(",,", 1, true), ("x"):rep(3, "-")
    """
    assert lua.execute(code).value == [2000, 2000 * len("key = value "), "padded", 4, "x-x-x"]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("string.find(nil, 'x')", "bad argument #1 to 'find' (string expected, got nil)"),
        ("string.find('x')", "bad argument #2 to 'find' (string expected, got no value)"),
        ("('x'):find({})", "bad argument #1 to 'find' (string expected, got table)"),
        ("string.find('x', 'x', 1.5)", "number has no integer representation"),
        ("string.gsub('x', 'x')", "bad argument #3 to 'gsub' (string/function/table expected"),
        ("string.rep('x', 'y')", "bad argument #2 to 'rep' (number expected, got string)"),
        ("string.find('x', '[a')", "malformed pattern (missing ']')"),
        ("string.gsub('x', 'x', '%2')", "invalid capture index %2"),
        ("table.sort({}, 1)", "bad argument #2 to 'sort' (function expected, got number)"),
        ("table.move(1, 1, 1, 1)", "bad argument #1 to 'move' (table expected, got number)"),
    ],
)
def test_argument_errors_read_like_the_c_functions(
    lua: ScriptRuntime, code: str, message: str
) -> None:
    err = error_of(lua, code)
    assert message in err.evalue
    assert err.evalue.startswith("script:1:")
