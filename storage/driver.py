"""Statements compiled once and run on the DBAPI connection itself, for the hottest few (state
get/put): there SQLAlchemy's per-execution work (connection wrapper, compiled-cache lookup,
result objects) costs several times what SQLite's own lookup does.

A `DriverStatement` is still built from the `Table` objects; it keeps the SQL text the dialect
compiled, the tenant value bound into it and the conversions of its typed parameters (a UTC
timestamp as SQLite's text), and the SQLAlchemy statement for backends that run it through a
`Connection` (PostgreSQL: there the network round-trip dominates, and the pool's reconnect
handling stays in one place).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, cast

from sqlalchemy import Connection, Dialect, Engine
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable

__all__ = ["ConnectionRunner", "DriverRunner", "DriverStatement", "StatementRunner"]

_GIVEN = object()  # a parameter whose value comes at execution


class DriverStatement:
    """`statement` compiled for `dialect`; `column_keys` names the parameters an INSERT takes
    at execution (as SQLAlchemy derives them from the first parameter set)."""

    __slots__ = ("_names", "_plan", "_positional", "sql", "statement")

    def __init__(
        self, statement: Executable, dialect: Dialect, column_keys: Sequence[str] | None = None
    ) -> None:
        clause = cast(ClauseElement, statement)
        compiled = cast(
            SQLCompiler, clause.compile(dialect=dialect, column_keys=list(column_keys or ()))
        )
        self.statement = statement
        self.sql = compiled.string
        self._positional = bool(dialect.positional)
        names = list(compiled.positiontup or ()) if self._positional else list(compiled.params)
        self._names = tuple(names)
        # Per parameter: its name, the value bound into the statement (tenant), converted once,
        # or _GIVEN, and the conversion of a given value's type (None: passed as it is).
        plan: list[tuple[str, Any, Callable[[Any], Any] | None]] = []
        for name in names:
            bind = compiled.binds[name]
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if bind.required:
                plan.append((name, _GIVEN, processor))
            else:
                fixed = bind.value
                converted = fixed if processor is None or fixed is None else processor(fixed)
                plan.append((name, converted, None))
        self._plan = tuple(plan)

    def parameters(self, given: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        """The driver's parameters: the statement's own bound values plus `given`, converted."""
        values = []
        for name, fixed, processor in self._plan:
            if fixed is not _GIVEN:
                values.append(fixed)
                continue
            value = given[name]
            values.append(value if processor is None or value is None else processor(value))
        return tuple(values) if self._positional else dict(zip(self._names, values, strict=True))


class StatementRunner(Protocol):
    """Runs `DriverStatement`s inside one transaction."""

    def first(self, statement: DriverStatement, params: Mapping[str, Any]) -> Any:
        """The first row of the statement's result (a tuple-like row), or None."""
        ...

    def execute(self, statement: DriverStatement, params: Mapping[str, Any]) -> int:
        """Run the statement; how many rows it changed."""
        ...


class DriverRunner:
    """On the DBAPI connection (SQLite) of `engine`: the compiled text, converted parameters."""

    __slots__ = ("_driver", "engine")

    def __init__(self, driver: Any, engine: Engine) -> None:
        self._driver = driver
        self.engine = engine

    def first(self, statement: DriverStatement, params: Mapping[str, Any]) -> Any:
        cursor = self._driver.execute(statement.sql, statement.parameters(params))
        try:
            return cursor.fetchone()
        finally:
            cursor.close()

    def execute(self, statement: DriverStatement, params: Mapping[str, Any]) -> int:
        cursor = self._driver.execute(statement.sql, statement.parameters(params))
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()


class ConnectionRunner:
    """Through a SQLAlchemy `Connection` (PostgreSQL): the SQLAlchemy statement itself."""

    __slots__ = ("_conn",)

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def first(self, statement: DriverStatement, params: Mapping[str, Any]) -> Any:
        return self._conn.execute(statement.statement, dict(params)).first()

    def execute(self, statement: DriverStatement, params: Mapping[str, Any]) -> int:
        return int(self._conn.execute(statement.statement, dict(params)).rowcount)
