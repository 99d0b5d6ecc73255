"""Fixtures for the provider suites: no vendor settings from the developer's environment, a
fake vendor server per test, and providers of every type configured against it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fakes.llm_servers import FakeLLMServer
from provider_helpers import TEST_KEY, VENDORS, Connect, Connection, Vendor

from llmspell.runtime.config import LLMSpellConfig
from llmspell.runtime.providers import ProviderManager

# Variables the vendor clients read by themselves when a setting is not passed explicitly.
VENDOR_VARIABLES = (
    "OPENAI_API_KEY",
    "OPENAI_ADMIN_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_CUSTOM_HEADERS",
    "ANTHROPIC_PROFILE",
    "OLLAMA_API_KEY",
)


@pytest.fixture(autouse=True)
def _no_vendor_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VENDOR_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    # a proxy from the environment must not come between the clients and the fake server
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def fake_llm() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


@pytest.fixture(params=VENDORS, ids=[v.type for v in VENDORS])
def vendor(request: pytest.FixtureRequest) -> Vendor:
    vendor: Vendor = request.param
    return vendor


@pytest.fixture
def connect(fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Connect]:
    managers: list[ProviderManager] = []

    def make(vendor: Vendor, *, key: str | None = TEST_KEY, **settings: Any) -> Connection:
        section: dict[str, Any] = {
            "type": vendor.type,
            "base_url": fake_llm.base_url(vendor.type),
            "max_retries": 0,
            "timeout_s": 30,
        }
        if vendor.type == "ollama":  # it needs a key only when api_key_env names one
            section["api_key_env"] = vendor.key_env
        section.update(settings)
        if key is not None:
            monkeypatch.setenv(vendor.key_env, key)
        config = LLMSpellConfig.model_validate({"providers": {vendor.type: section}})
        manager = ProviderManager(config)
        managers.append(manager)
        return Connection(manager, manager.get(vendor.type), vendor)

    yield make
    for manager in managers:
        manager.close()
