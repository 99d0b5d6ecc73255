"""PostgreSQL URLs as users write them (`postgresql://u:pw@h:p/db`, `postgresql://u@/db?host=/sock`)."""

from __future__ import annotations

import getpass
from typing import Any
from urllib.parse import quote, urlencode

import psycopg
from psycopg.conninfo import conninfo_to_dict

from llmspell.storage.errors import StorageError
from llmspell.storage.redaction import redact_secrets


def parse_url(url: str, what: str = "storage.postgres.url") -> dict[str, Any]:
    """The libpq parameters of `url`, or StorageError naming the setting when it is malformed."""
    if not url:
        raise StorageError(
            f"{what} is empty; set it to e.g. postgresql://llmspell_app@localhost/llmspell"
        )
    try:
        return conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        reason = redact_secrets(str(exc).splitlines()[0], url)
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
    """`url` with another role, database or password, as a URL.

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
    return as_url(params)


def as_url(params: dict[str, Any]) -> str:
    """libpq parameters as a `postgresql://` URL (a socket directory goes into `?host=`)."""
    rest = dict(params)
    user = quote(str(rest.pop("user", "")), safe="")
    password = rest.pop("password", None)
    host = str(rest.pop("host", ""))
    port = rest.pop("port", None)
    dbname = quote(str(rest.pop("dbname", "")), safe="")
    login = f"{user}:{quote(str(password), safe='')}@" if password else (f"{user}@" if user else "")
    netloc = ""
    if host and not host.startswith("/") and "," not in host:
        netloc = f"[{host}]" if ":" in host else host
    elif host:
        rest["host"] = host
    if port:
        if netloc:
            netloc += f":{port}"
        else:
            rest["port"] = port
    query = "?" + urlencode(rest, safe="/", quote_via=quote) if rest else ""
    return f"postgresql://{login}{netloc}/{dbname}{query}"


def describe(url: str) -> str:
    """`user@host:port/db` for messages: never the password (nor a piece of one that libpq
    would misread as the host, from an unencoded `@` in it)."""
    try:
        params = conninfo_to_dict(redact_secrets(url))
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
        reason = redact_secrets(" ".join(str(exc).split()), url)
        raise StorageError(f"cannot connect to {what} at {describe(url)}: {reason}") from None
