"""PostgreSQL URLs as users write them (`postgresql://u:pw@h:p/db`, `postgresql://u@/db?host=/sock`)."""

from __future__ import annotations

import getpass
from typing import Any

import psycopg
from llmspell.storage.errors import StorageError
from psycopg.conninfo import conninfo_to_dict, make_conninfo


def parse_url(url: str, what: str = "storage.postgres.url") -> dict[str, Any]:
    """The libpq parameters of `url`, or StorageError naming the setting when it is malformed."""
    if not url:
        raise StorageError(
            f"{what} is empty; set it to e.g. postgresql://llmspell_app@localhost/llmspell"
        )
    try:
        return conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        reason = str(exc).splitlines()[0]
        raise StorageError(f"{what} is not a valid PostgreSQL URL: {reason}") from None


def role_of(url: str, what: str = "storage.postgres.url") -> str:
    """The role `url` logs in as (libpq's default, the OS user, when it names none)."""
    user = parse_url(url, what).get("user")
    return str(user) if user else getpass.getuser()


def password_of(url: str) -> str | None:
    password = parse_url(url).get("password")
    return str(password) if password else None


def database_of(url: str) -> str:
    params = parse_url(url)
    return str(params.get("dbname") or params.get("user") or getpass.getuser())


def with_login(
    url: str, *, user: str | None = None, dbname: str | None = None, password: str | None = None
) -> str:
    """`url` (as a libpq conninfo) with another role, database or password.

    A new role without a new password drops the old password.
    """
    params = parse_url(url)
    if user is not None:
        params["user"] = user
        params.pop("password", None)
    if password is not None:
        params["password"] = password
    if dbname is not None:
        params["dbname"] = dbname
    return make_conninfo(**params)


def describe(url: str) -> str:
    """`user@host:port/db` for messages: never the password."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<invalid url>"
    host = params.get("host") or "localhost"
    port = f":{params['port']}" if params.get("port") else ""
    user = f"{params['user']}@" if params.get("user") else ""
    return f"{user}{host}{port}/{params.get('dbname', '')}"


def connect(
    url: str, *, autocommit: bool = False, what: str = "PostgreSQL"
) -> psycopg.Connection[Any]:
    """A psycopg connection, or StorageError with a one-line reason (no password in it)."""
    parse_url(url)
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=10)
    except psycopg.OperationalError as exc:
        reason = " ".join(str(exc).split())
        raise StorageError(f"cannot connect to {what} at {describe(url)}: {reason}") from None
