"""How a Lua cell becomes a function without running it: its last statement, when it is an
expression (`x`, `f(x)`, `t.a + 1`, also after `;` on the same line), is the cell's result and a
trailing `;` suppresses it; and whether the text is complete yet (is_complete).

This must stay linear in the size of the cell — a cell can be a 40,000-line script or 50 MB of
statements. The text is compiled a fixed number of times, and only its tail is tokenized: from
a line start outside any string or comment, backwards from the end over one balanced
expression, to the start of the last statement as Lua's parser would see it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NamedTuple

from llmspell.runtime.engines.lua.conversion import lua_text
from llmspell.runtime.engines.lua.introspection import KEYWORDS
from llmspell.runtime.results import CompletenessCheck, ScriptError

# The patterns are compiled on first use (`re` keeps them): a run whose cells compile as they
# are (`print(1)`) never scans them, and compiling both costs a start ~0.6 ms.
# Strings and comments, the only places where a Lua line start is not the lexer's own.
_SPAN = (
    r"""--\[(=*)\[.*?\]\1\]|--[^\n]*|\[(=*)\[.*?\]\2\]"""
    r"""|"(?:[^"\\\n]|\\z\s*|\\.)*"?|'(?:[^'\\\n]|\\z\s*|\\.)*'?""",
    re.S,
)
_TOKEN = (
    r"""(?P<space>[ \t\n\r\f\v]+)
      | (?P<comment>--\[(?P<cq>=*)\[.*?\](?P=cq)\]|--[^\n]*)
      | (?P<string>\[(?P<sq>=*)\[.*?\](?P=sq)\]
                  |"(?:[^"\\\n]|\\z\s*|\\.)*"?|'(?:[^'\\\n]|\\z\s*|\\.)*'?)
      | (?P<number>\.?[0-9](?:[eEpP][+-]|[0-9A-Za-z_.])*)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op>\.\.\.|\.\.|==|~=|<=|>=|//|::|<<|>>|.)""",
    re.S | re.X,
)
_KEYWORDS = frozenset(KEYWORDS)
_CLOSERS = {")": "(", "]": "[", "}": "{"}
_BLOCK_OPENERS = frozenset({"function", "do", "if"})
# Binary operators: after a complete expression Lua reads them as its continuation.
_BINARY = frozenset(
    {
        *("+", "-", "*", "/", "//", "%", "^", "..", "==", "~=", "<", "<=", ">", ">="),
        *("&", "|", "~", "<<", ">>", "and", "or"),
    }
)
# Tokens that continue a prefix expression: a call, an index or a method call.
_SUFFIX = frozenset({"(", "[", "{", ".", ":"})
# A statement may start right after these...
_BOUNDARY = frozenset({";", "::", "break"})
# ...and an expression ending the cell after these is part of a bigger statement.
_INSIDE_STATEMENT = frozenset(
    {
        "=",
        "local",
        "return",
        "goto",
        "in",
        "until",
        "do",
        "then",
        "else",
        "elseif",
        "while",
        "repeat",
        "for",
        "if",
        "function",
    }
)
TAIL = 64 * 1024  # bytes tokenized first; more only when the last statement is longer
POLL_EVERY = 4096  # regex matches between two checks of the interrupt and the deadline


class _Token(NamedTuple):
    kind: str  # "name" | "keyword" | "number" | "string" | "op"
    text: str
    start: int


class _NeedMore(Exception):
    """The walk reached the start of the tail: the last statement begins before it."""


class CellCompiler:
    """Compiles text chunks with the engine's `compile` (Lua `load`, text mode only).
    `poll` raises when the cell must stop (interrupt, timeout) during the Python-side scans."""

    def __init__(
        self, compile_chunk: Callable[[bytes, bytes], Any], poll: Callable[[], None]
    ) -> None:
        self._compile_chunk = compile_chunk
        self._poll = poll

    def compile_cell(self, code: str, name: str) -> tuple[Any, bool]:
        """Compile a cell. Returns (function, whether its result is shown): when the last
        statement is an expression its value is the result; a trailing `;` suppresses that,
        also after an expression (`x;`, which Lua alone would reject)."""
        chunk = name.encode()
        stripped = code.rstrip()
        if stripped.endswith(";"):
            fn, err = self._load(code, chunk)
            if fn is not None:
                return fn, False
            fn = self._compile_with_result(stripped[:-1], chunk)
            if fn is not None:
                return fn, False
            raise _syntax_error(err)
        fn = self._compile_with_result(code, chunk)
        if fn is not None:
            return fn, True
        fn, err = self._load(code, chunk)
        if fn is not None:
            return fn, True
        raise _syntax_error(err)

    def is_complete(self, code: str) -> CompletenessCheck:
        """An error at `<eof>` means more lines are coming; any other syntax error is final."""
        try:
            self.compile_cell(code, "input")
        except ScriptError as err:
            if err.ename != "LuaError":
                raise
            if err.evalue.rstrip().endswith("<eof>"):
                return CompletenessCheck("incomplete", "  ")
            return CompletenessCheck("invalid")
        return CompletenessCheck("complete")

    def _load(self, source: str, chunk: bytes) -> tuple[Any, str]:
        """(function, "") or (None, syntax error message)."""
        result = self._compile_chunk(source.encode(), chunk)
        if isinstance(result, tuple):
            return None, lua_text(result[1])
        return result, ""

    def _compile_with_result(self, code: str, chunk: bytes) -> Any:
        """The cell with its last statement compiled as `return expr`, or None when that
        statement is not an expression."""
        fn = self._compile_returning("", code, chunk)
        if fn is not None:
            return fn
        start = self._last_statement_start(code)
        if start is None or start == 0:
            return None
        return self._compile_returning(code[:start], code[start:], chunk)

    def _compile_returning(self, statements: str, expr: str, chunk: bytes) -> Any:
        """`statements` then `return expr`, compiled, or None when that does not compile.

        The values pass through a function call: `return f()` would be a tail call, which drops
        the cell's own line from the traceback when `f` fails. `expr` is balanced (the walk
        guarantees it), so the parentheses around it cannot pair with anything inside."""
        source = f"{statements}return (function(...) return ... end)({expr}\n)"
        fn, _ = self._load(source, chunk)
        return fn

    # --- the last statement -------------------------------------------------------------------

    def _last_statement_start(self, code: str) -> int | None:
        """Where the trailing expression statement starts (an offset into `code`), or None when
        the cell does not end with one."""
        tail = TAIL
        while True:
            begin = self._clean_start(code, len(code) - tail)
            tokens = self._tokens(code, begin)
            try:
                index = _trailing_expression(tokens, begin == 0)
            except _NeedMore:
                tail *= 8
                continue
            return None if index is None else tokens[index].start

    def _clean_start(self, code: str, near: int) -> int:
        """A line start at or before `near` where the lexer is outside strings and comments (or
        the start of the string or comment that spans it)."""
        if near <= 0:
            return 0
        start = code.rfind("\n", 0, near) + 1
        if start == 0:
            return 0
        for count, span in enumerate(re.compile(*_SPAN).finditer(code)):
            if count % POLL_EVERY == 0:
                self._poll()
            if span.start() >= start:
                break
            if span.end() > start:
                return span.start()
        return start

    def _tokens(self, code: str, begin: int) -> list[_Token]:
        tokens: list[_Token] = []
        for count, m in enumerate(re.compile(*_TOKEN).finditer(code, begin)):
            if count % POLL_EVERY == 0:
                self._poll()
            kind = m.lastgroup
            if kind in ("space", "comment") or kind is None:
                continue
            text = m.group()
            if kind == "name" and text in _KEYWORDS:
                kind = "keyword"
            tokens.append(_Token(kind, text, m.start()))
        return tokens


def _trailing_expression(tokens: list[_Token], at_start: bool) -> int | None:
    """The index of the first token of the expression statement the tokens end with, or None.
    Raises _NeedMore when the answer depends on tokens before these (and there are some)."""
    if not tokens:
        return None
    i = len(tokens) - 1
    if not (_ends_expression(tokens[i]) or tokens[i].text == "end"):
        return None
    while True:
        token = tokens[i]
        if token.text in _CLOSERS or (token.kind == "keyword" and token.text == "end"):
            opener = _opener(tokens, i, at_start)
            if opener is None:
                return None
            if token.text == "end" and not _is_function_expression(tokens, opener):
                # a block (or a function statement) ends here: the expression starts after it
                return i + 1 if i + 1 < len(tokens) else None
            i = opener
        if i == 0:
            if not at_start:
                raise _NeedMore
            return 0
        previous = tokens[i - 1]
        if previous.text in _BOUNDARY and previous.kind != "string":
            return i
        if previous.text in _INSIDE_STATEMENT and previous.kind in ("keyword", "op"):
            return None
        if previous.text in ("(", "[", "{") and previous.kind == "op":
            return None  # inside an unclosed bracket
        ends = _ends_expression(previous) or previous.text == "end"
        if (
            ends
            and _starts_expression(tokens[i])
            and not _continues(tokens, i - 1, tokens[i], at_start)
        ):
            return i
        i -= 1


def _ends_expression(token: _Token) -> bool:
    if token.kind in ("name", "number", "string"):
        return True
    if token.kind == "keyword":
        return token.text in ("nil", "true", "false")
    return token.text in (")", "]", "}", "...")


def _starts_expression(token: _Token) -> bool:
    if token.kind in ("name", "number", "string"):
        return True
    if token.kind == "keyword":
        return token.text in ("nil", "true", "false", "function", "not")
    return token.text in ("(", "{", "-", "~", "#", "...")


def _continues(tokens: list[_Token], left: int, token: _Token, at_start: bool) -> bool:
    """Whether Lua's parser, having read a complete expression ending at `tokens[left]`, reads
    `token` as more of it (greedily) rather than as the start of a new statement."""
    if token.kind in ("op", "keyword") and token.text in _BINARY:
        return True
    if token.kind == "string" or (token.kind == "op" and token.text in _SUFFIX):
        return _ends_prefix_expression(tokens, left, at_start)
    return False


def _ends_prefix_expression(tokens: list[_Token], k: int, at_start: bool) -> bool:
    """Whether tokens[k] ends a prefix expression (a name, an index, a call): only those can be
    called or indexed. A string or table ends one only as the argument of a call (`f"x"`,
    `f{...}`); a block's or a function's `end` never does."""
    while k >= 0:
        token = tokens[k]
        if token.kind == "name" or (token.kind == "op" and token.text in (")", "]")):
            return True
        if token.kind == "string":
            k -= 1
        elif token.kind == "op" and token.text == "}":
            opener = _opener(tokens, k, at_start)
            if opener is None:
                return False
            k = opener - 1
        else:
            return False
    if not at_start:
        raise _NeedMore
    return False


def _opener(tokens: list[_Token], i: int, at_start: bool) -> int | None:
    """The index of the token that `tokens[i]` (a bracket or `end`) closes; None when they do
    not pair. Raises _NeedMore when the opener lies before the tokens (and there are some)."""
    stack: list[str] = []
    for k in range(i, -1, -1):
        token = tokens[k]
        if token.kind == "op" and token.text in _CLOSERS:
            stack.append(_CLOSERS[token.text])
        elif token.kind == "keyword" and token.text == "end":
            stack.append("end")
        elif token.kind == "op" and token.text in ("(", "[", "{"):
            if not stack or stack.pop() != token.text:
                return None
            if not stack:
                return k
        elif token.kind == "keyword" and token.text in _BLOCK_OPENERS:
            if not stack or stack.pop() != "end":
                return None
            if not stack:
                return k
    if not at_start:
        raise _NeedMore
    return None


def _is_function_expression(tokens: list[_Token], opener: int) -> bool:
    """`function (...) ... end` as a value, not `function name() ... end` (a statement)."""
    token = tokens[opener]
    return token.text == "function" and opener + 1 < len(tokens) and tokens[opener + 1].text == "("


def _syntax_error(message: str) -> ScriptError:
    return ScriptError("LuaError", message, [f"LuaError: {message}"])
