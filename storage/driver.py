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


class DriverStatement:
    """`statement` compiled for `dialect`; `column_keys` names the parameters an INSERT takes
    at execution (as SQLAlchemy derives them from the first parameter set)."""

    __slots__ = ("_given", "_names", "_positional", "_template", "sql", "statement")

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
        # The parameters with the values bound into the statement (tenant) converted once, and
        # per parameter given at execution: its position, name and the conversion of its type
        # (None: passed as it is).
        template: list[Any] = []
        given: list[tuple[int, str, Callable[[Any], Any] | None]] = []
        for position, name in enumerate(names):
            bind = compiled.binds[name]
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if bind.required:
                template.append(None)
                given.append((position, name, processor))
            else:
                fixed = bind.value
                template.append(fixed if processor is None or fixed is None else processor(fixed))
        self._template = tuple(template)
        self._given = tuple(given)

    def parameters(self, given: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        """The driver's parameters: the statement's own bound values plus `given`, converted."""
        values = list(self._template)
        for position, name, processor in self._given:
            value = given[name]
            values[position] = value if processor is None or value is None else processor(value)
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

    # The cursor is let go as soon as it is read: CPython frees (and so closes) it at once.
    def first(self, statement: DriverStatement, params: Mapping[str, Any]) -> Any:
        return self._driver.execute(statement.sql, statement.parameters(params)).fetchone()

    def execute(self, statement: DriverStatement, params: Mapping[str, Any]) -> int:
        return int(self._driver.execute(statement.sql, statement.parameters(params)).rowcount)


class ConnectionRunner:
    """Through a SQLAlchemy `Connection` (PostgreSQL): the SQLAlchemy statement itself."""

    __slots__ = ("_conn",)

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def first(self, statement: DriverStatement, params: Mapping[str, Any]) -> Any:
        return self._conn.execute(statement.statement, dict(params)).first()

    def execute(self, statement: DriverStatement, params: Mapping[str, Any]) -> int:
        return int(self._conn.execute(statement.statement, dict(params)).rowcount)
