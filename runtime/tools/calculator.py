"""The `calculator` tool: arithmetic over a parsed expression, never `eval`.

The expression is parsed with Python's `ast` (after `^` becomes the power operator) and walked
node by node: numbers, + - * / // % ** and unary minus, parentheses, variables the caller
passes, the constants pi and e, and a few math functions. Anything else (attributes, calls of
other names, subscripts, strings) is refused. Integers stay integers (`7 / 2` is 3.5, `6 / 3`
is 2); sizes are bounded so `9^9^9^9` fails fast instead of exhausting memory.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

from llmspell.runtime.errors import InvalidArgument, kind_of
from llmspell.runtime.tools.registry import Tool, ToolFailure, ToolOutput

MAX_EXPRESSION_CHARS = 10_000
MAX_INT_BITS = 4096  # about 1,200 decimal digits
CONSTANTS = {"pi": math.pi, "e": math.e}
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
    "sqrt": math.sqrt,
    "floor": math.floor,
    "ceil": math.ceil,
    "exp": math.exp,
    "log": math.log,
    "log10": math.log10,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
}
Number = int | float

# The reference system's two-operand form: {operation = "add", a = 5, b = 3}.
BINARY_OPERATIONS = {
    "add": "+",
    "subtract": "-",
    "multiply": "*",
    "divide": "/",
    "power": "^",
    "modulo": "%",
}
SCHEMA = {
    "type": "object",
    "properties": {
        "operation": {"enum": ["evaluate"]},
        "input": {"type": "string", "maxLength": MAX_EXPRESSION_CHARS},
        "variables": {"type": "object", "additionalProperties": {"type": "number"}},
    },
    "required": ["input"],
    "additionalProperties": False,
}


def two_operand_form(params: dict[str, Any]) -> dict[str, Any]:
    """`{operation = "add", a = 5, b = 3}` (the reference's form) as `{input = "a + b",
    variables = {a = 5, b = 3}}`; other params as they are."""
    operation = params.get("operation", "evaluate")
    if operation == "evaluate":
        return params
    if operation not in BINARY_OPERATIONS:
        raise InvalidArgument(
            f"calculator: operation must be one of 'evaluate', "
            f"{', '.join(repr(o) for o in BINARY_OPERATIONS)}, got {operation!r}"
        )
    operands = {key: params.get(key) for key in ("a", "b")}
    for key, value in operands.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidArgument(
                f"calculator: operation {operation!r} needs numbers a and b; {key} is "
                f"{kind_of(value)}"
            )
    extra = sorted(set(params) - {"operation", "a", "b"})
    if extra:
        raise InvalidArgument(
            f"calculator: operation {operation!r} takes a and b only, got also {', '.join(extra)}"
        )
    return {"input": f"a {BINARY_OPERATIONS[operation]} b", "variables": operands}


def evaluate(expression: str, variables: dict[str, Number] | None = None) -> Number:
    """The value of an arithmetic `expression`; ToolFailure saying what is wrong otherwise."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ToolFailure(
            f"expression is {len(expression)} characters; the limit is {MAX_EXPRESSION_CHARS}"
        )
    names = dict(CONSTANTS)
    names.update(variables or {})
    try:
        tree = ast.parse(expression.replace("^", "**").strip(), mode="eval")
    except SyntaxError as exc:
        raise ToolFailure(f"invalid expression {_short(expression)}: {exc.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise ToolFailure(f"expression {_short(expression)} is nested too deeply") from None
    try:
        value = _Evaluator(names).visit(tree.body)
    except RecursionError:
        raise ToolFailure(f"expression {_short(expression)} is nested too deeply") from None
    except ZeroDivisionError:
        raise ToolFailure("division by zero") from None
    except OverflowError:
        raise ToolFailure("the result is too large") from None
    except (ValueError, TypeError) as exc:  # math domain errors (sqrt(-1)), min() of nothing
        raise ToolFailure(f"cannot evaluate {_short(expression)}: {exc}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolFailure(f"the result is not a finite number ({value})")
    return value


class _Evaluator:
    _BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
        ast.Add: operator.add,
        ast.Sub: operator.sub,
        ast.Mult: operator.mul,
        ast.FloorDiv: operator.floordiv,
        ast.Mod: operator.mod,
    }

    def __init__(self, names: dict[str, Number]) -> None:
        self._names = names

    def visit(self, node: ast.AST) -> Number:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise ToolFailure(f"only numbers are allowed, got {node.value!r}")
            return _bounded(node.value)
        if isinstance(node, ast.Name):
            if node.id not in self._names:
                allowed = ", ".join(sorted(self._names)) or "none"
                raise ToolFailure(f"unknown name {node.id!r}; variables and constants: {allowed}")
            return self._names[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = self.visit(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BinOp):
            return self._binary(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise ToolFailure(f"{type(node).__name__.lower()} is not allowed in an expression")

    def _binary(self, node: ast.BinOp) -> Number:
        left, right = self.visit(node.left), self.visit(node.right)
        if isinstance(node.op, ast.Pow):
            return _power(left, right)
        if isinstance(node.op, ast.Div):
            if isinstance(left, int) and isinstance(right, int) and right and left % right == 0:
                return left // right
            return left / right
        op = self._BINARY.get(type(node.op))
        if op is None:
            raise ToolFailure(f"operator {type(node.op).__name__} is not allowed")
        if (
            isinstance(node.op, ast.Mult)
            and isinstance(left, int)
            and isinstance(right, int)
            and left.bit_length() + right.bit_length() > MAX_INT_BITS + 1
        ):
            raise ToolFailure(f"the result has more than {MAX_INT_BITS} bits")
        return _bounded(op(left, right))

    def _call(self, node: ast.Call) -> Number:
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            allowed = ", ".join(sorted(FUNCTIONS))
            name = node.func.id if isinstance(node.func, ast.Name) else "this"
            raise ToolFailure(f"function {name!r} is not available; functions: {allowed}")
        if node.keywords:
            raise ToolFailure(f"{node.func.id}() takes no named arguments")
        args = [self.visit(arg) for arg in node.args]
        return _bounded(FUNCTIONS[node.func.id](*args))


def _power(base: Number, exponent: Number) -> Number:
    if isinstance(base, int) and isinstance(exponent, int):
        if exponent < 0:
            return float(base) ** exponent
        if abs(base) > 1 and exponent * base.bit_length() > MAX_INT_BITS + base.bit_length():
            raise ToolFailure(
                f"{base}^{exponent} is too large (results are limited to {MAX_INT_BITS} bits)"
            )
        exact: int = base**exponent
        return exact
    result: Any = float(base) ** float(exponent)
    if isinstance(result, complex):
        raise ToolFailure(f"{base}^{exponent} has no real value")
    real: float = result
    return real


def _bounded(value: Any) -> Number:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise ToolFailure(f"the result has more than {MAX_INT_BITS} bits")
    number: Number = value
    return number


def _short(expression: str) -> str:
    return repr(expression if len(expression) <= 60 else expression[:57] + "...")


def _run(params: dict[str, Any]) -> ToolOutput:
    value = evaluate(params["input"], params.get("variables"))
    # The reference's scripts read `result.value` (and `result.result`).
    return ToolOutput(value, fields={"value": value})


TOOL = Tool(
    name="calculator",
    description="Evaluates an arithmetic expression (+ - * / // % ^, parentheses, variables, "
    "pi, e, sqrt/abs/min/max/round/floor/ceil/exp/log/log10/sin/cos/tan), or one operation "
    "(add, subtract, multiply, divide, power, modulo) on a and b",
    category="math",
    schema=SCHEMA,
    run=_run,
    tags=("math", "offline"),
    aliases={"expression": "input"},
    reference_form=two_operand_form,
)
