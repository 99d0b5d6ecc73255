"""A secret never reaches SQL text or parameters, logs, error messages or reprs: every path of
the key store (add, read, rotate, rotate-master, and their failures) runs with SQL echo on, a
statement listener and DEBUG logging for every logger, and all of it is searched for the
plaintexts (as text, base64 and hex)."""

from __future__ import annotations

import base64
import logging
import os
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from key_helpers import FailingReencrypt, MakeKeys, b64key

from llmspell.storage import SqlStorage

# Distinct, greppable secrets (never written literally into a call below, so a traceback's
# source lines cannot contain one).
PLAINTEXTS = [f"sk-LEAKCHECK-{name}-{os.urandom(6).hex()}" for name in "abcdef"]


def forms(secret: str) -> list[str]:
    raw = secret.encode("utf-8")
    return [secret, base64.b64encode(raw).decode(), raw.hex(), secret[7:]]


def leaks(text: str) -> list[str]:
    return [form for secret in PLAINTEXTS for form in forms(secret) if form in text]


def chain(exc: BaseException) -> Iterator[BaseException]:
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]


@pytest.fixture
def sql_seen(storage: SqlStorage, sql_recorder: Callable[[Any], Any]) -> Iterator[list[Any]]:
    engine = storage.database("api_keys").engine
    engine.echo = True  # SQLAlchemy logs every statement with its parameters
    try:
        with sql_recorder(engine) as seen:
            yield seen
    finally:
        engine.echo = False


def test_no_plaintext_in_sql_logs_errors_or_reprs(
    storage: SqlStorage,
    make_keys: MakeKeys,
    key_file: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    sql_seen: list[Any],
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: every logger's records
    errors: list[BaseException] = []
    shown: list[str] = []

    def failing(call: Callable[[], Any]) -> None:
        with pytest.raises(Exception) as caught:
            call()
        errors.append(caught.value)

    first, rotated, other, long_one, env_secret, spare = PLAINTEXTS
    keys = make_keys()
    shown.append(repr(keys.add("openai", first)))
    assert keys.secret("openai") == first
    shown.append(repr(keys.rotate("openai", rotated)))
    assert keys.secret("openai") == rotated
    shown.append(repr(keys.add("anthropic", other)))
    shown.append(repr(keys.rotate_master()))
    assert keys.secret("openai") == rotated
    shown += [repr(keys), repr(keys.list(include_inactive=True))]
    shown.append(repr(storage.api_keys.list(include_inactive=True)))

    failing(lambda: keys.add("openai", spare))  # already has an active key
    failing(lambda: keys.add("mistral", long_one * 2000))  # too long
    failing(lambda: keys.add("mistral", long_one.encode()))  # not text
    failing(lambda: make_keys(store=FailingReencrypt(keys._store)).rotate_master())
    failing(lambda: make_keys(env={"LLMSPELL_MASTER_KEY": b64key()}).secret("openai"))
    failing(lambda: make_keys(env={"LLMSPELL_MASTER_KEY": "bad!"}).add("mistral", spare))
    key_file.chmod(0o644)
    failing(lambda: keys.secret("openai"))
    failing(lambda: keys.rotate("openai", spare))
    key_file.chmod(0o600)

    env_keys = make_keys(env={"LLMSPELL_MASTER_KEY": b64key()}, on=None)
    env_keys.remove("openai")
    env_keys.remove("anthropic")
    env_keys.add("env-service", env_secret)
    shown.append(repr(env_keys.rotate_master(os.urandom(32))))
    failing(lambda: env_keys.secret("env-service"))  # the variable was not updated

    assert len(errors) == 9
    for error in errors:
        for link in chain(error):
            assert leaks(str(link)) == [], (type(link), str(link))
            assert leaks(repr(link)) == [], repr(link)
        assert leaks("".join(traceback.format_exception(error))) == []
    assert leaks("\n".join(shown)) == []

    assert sql_seen, "the listener saw the statements"
    for statement, params in sql_seen:
        assert leaks(statement) == [], statement
        assert leaks(repr(params)) == [], params
        values = params if isinstance(params, (list, tuple)) else [params]
        for value in values:
            for item in value.values() if isinstance(value, dict) else [value]:
                if isinstance(item, (bytes, bytearray, memoryview)):
                    data = bytes(item)
                    assert not any(s.encode() in data for s in PLAINTEXTS)
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records)
    assert "INSERT INTO api_keys" in logged or "INSERT INTO" in logged, "echo reached the logs"
    assert leaks(logged) == []
    out = capsys.readouterr()
    assert leaks(out.out + out.err) == []
    assert leaks(key_file.read_text()) == []
