"""Passwords never leave a connection string: every libpq credential form, in redacted text and
in the errors of a malformed string or a failed connection."""

from __future__ import annotations

import pytest
from fakes.connection_strings import FORMS, CredentialForm

from llmspell.storage import StorageError, StorageSettings, open_storage
from llmspell.storage.postgres.urls import connect, parse_url
from llmspell.storage.redaction import redact_secrets

BY_NAME = pytest.mark.parametrize("form", FORMS, ids=[form.name for form in FORMS])


@BY_NAME
def test_redact_secrets_hides_the_password_of_every_libpq_form(form: CredentialForm) -> None:
    shown = redact_secrets(form.url)
    assert form.secret not in shown
    assert "***" in shown
    assert "127.0.0.1" in shown, "the rest of the string stays readable"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://app@db/llm", "postgresql://app@db/llm"),
        (
            "postgresql://app:pw@db/llm?sslmode=require",
            "postgresql://app:***@db/llm?sslmode=require",
        ),
        ("host=db passfile=/home/a/.pgpass dbname=x", "host=db passfile=/home/a/.pgpass dbname=x"),
        ("host=db password=a\\ b dbname=x", "host=db password=*** dbname=x"),
        ("https://u:p%40ss@h.example/v1", "https://u:***@h.example/v1"),
        ("postgresql://u:p@ss/w@h/db", "postgresql://u:***@h/db"),
        ("host=x password='unterminated secret", "host=x password=***"),
        ("host=x password=two words dbname=y", "host=x password=*** dbname=y"),
    ],
)
def test_redact_secrets_keeps_everything_but_the_password(text: str, shown: str) -> None:
    assert redact_secrets(text) == shown


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("postgresql://app:p%zzsecret-71@db/llm", "secret-71"),
        ("postgresql://app@db/llm?password=se%zzcret-72", "cret-72"),
        ("host=db password=two secret-73", "secret-73"),
        ("host=db password='unterminated secret-74", "secret-74"),
    ],
)
def test_a_malformed_url_is_explained_without_its_password(url: str, secret: str) -> None:
    with pytest.raises(StorageError) as caught:
        parse_url(url)
    message = str(caught.value)
    assert message.startswith("storage.postgres.url is not a valid PostgreSQL URL: ")
    assert secret not in message


@BY_NAME
def test_a_failed_connection_error_does_not_show_the_password(form: CredentialForm) -> None:
    with pytest.raises(StorageError) as caught:
        connect(form.url).close()
    message = str(caught.value)
    assert message.startswith("cannot connect to PostgreSQL at ")
    assert form.secret not in message


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("postgresql://app:secret-75/x@127.0.0.1:1/llm", "secret-75"),
        ("postgresql://app:secret@76@127.0.0.1:1/llm", "76"),
    ],
)
def test_a_password_libpq_misreads_as_the_host_or_port_is_not_shown(url: str, secret: str) -> None:
    with pytest.raises(StorageError) as caught:
        connect(url).close()
    assert secret not in str(caught.value)


@BY_NAME
def test_opening_storage_on_an_unreachable_server_does_not_show_the_password(
    form: CredentialForm,
) -> None:
    settings = StorageSettings(backend="postgres", pg_url=form.url, pg_admin_url=form.url)
    with pytest.raises(StorageError) as caught:
        open_storage(settings, "t").kv.get("g", "k")
    assert "cannot connect" in str(caught.value)
    assert form.secret not in str(caught.value)
