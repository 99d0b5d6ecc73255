"""PostgreSQL connection strings with a password in every form libpq accepts, each pointing at
a closed local port (127.0.0.1:1) so a connection attempt fails at once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CredentialForm:
    name: str
    url: str
    secret: str  # what must never be shown


FORMS = [
    CredentialForm("userinfo", "postgresql://app:pw-userinfo-61@127.0.0.1:1/llm", "pw-userinfo-61"),
    CredentialForm(
        "query-password",
        "postgresql://app@/llm?host=127.0.0.1&port=1&password=pw-query-62",
        "pw-query-62",
    ),
    CredentialForm(
        "query-password-encoded-name",
        "postgresql://app@/llm?host=127.0.0.1&port=1&%70assword=pw-encoded-63",
        "pw-encoded-63",
    ),
    CredentialForm(
        "query-sslpassword",
        "postgresql://app@127.0.0.1:1/llm?sslpassword=pw-sslquery-64",
        "pw-sslquery-64",
    ),
    CredentialForm(
        "keyword-password",
        "host=127.0.0.1 port=1 user=app password=pw-keyword-65 dbname=llm",
        "pw-keyword-65",
    ),
    CredentialForm(
        "keyword-password-quoted",
        "host=127.0.0.1 port=1 user=app password = 'pw quoted 66' dbname=llm",
        "quoted 66",
    ),
    CredentialForm(
        "keyword-sslpassword",
        "host=127.0.0.1 port=1 user=app sslpassword=pw-sslkeyword-67 dbname=llm",
        "pw-sslkeyword-67",
    ),
]
