"""`Provider` as the rs-llmspell v0.13.1 Lua API appendix documents it: every function is
there, takes the documented arguments (the appendix's examples run as written) and returns the
documented fields; see docs/reference/compatibility.md. No provider is contacted."""
# ruff: noqa: E501 - the Lua programs under test read best on one line each

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from compat_helpers import run

from llmspell.runtime import ScriptError, ScriptRuntime, load_config
from llmspell.runtime.config import with_overrides

KEY_ENV = "LLMSPELL_COMPAT_PROVIDER_KEY"


@pytest.fixture
def configured(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptRuntime]:
    """OpenAI with its key, Anthropic without one, a disabled Ollama, and the built-in mock."""
    monkeypatch.setenv(KEY_ENV, "sk-compat")
    monkeypatch.delenv("LLMSPELL_COMPAT_NO_KEY", raising=False)
    overrides = {
        "providers.openai": {"type": "openai", "api_key_env": KEY_ENV, "models": ["gpt-4o"]},
        "providers.anthropic": {"type": "anthropic", "api_key_env": "LLMSPELL_COMPAT_NO_KEY"},
        "providers.local": {"type": "ollama", "enabled": False},
    }
    config = with_overrides(load_config(profile="memory", env={}).config, overrides)
    rt = ScriptRuntime.with_engine(config, "lua")
    try:
        yield rt
    finally:
        rt.close()


def test_list_example_prints_name_enabled_and_capabilities(configured: ScriptRuntime) -> None:
    out = configured.execute(
        """
        local providers = Provider.list()
        for i, provider in ipairs(providers) do
            print(provider.name, provider.enabled)
            if provider.capabilities then
                print("  Streaming:", provider.capabilities.supports_streaming)
                print("  Multimodal:", provider.capabilities.supports_multimodal)
                print("  Max tokens:", provider.capabilities.max_context_tokens)
            end
        end
        return providers
        """
    )
    names = [p["name"] for p in out.value]
    assert names == ["anthropic", "local", "mock", "openai"]
    assert [p["enabled"] for p in out.value] == [True, False, True, True]
    assert out.value[1].get("capabilities") is None  # a disabled provider's are not known
    for provider in [out.value[0], *out.value[2:]]:
        caps = provider["capabilities"]
        assert isinstance(caps["supports_streaming"], bool)
        assert isinstance(caps["supports_multimodal"], bool)
        assert isinstance(caps["max_context_tokens"], int) and caps["max_context_tokens"] > 0
    assert "openai\ttrue\n  Streaming:\ttrue\n" in out.stdout
    assert "local\tfalse\n" in out.stdout


def test_get_gives_name_and_enabled_or_nil(configured: ScriptRuntime) -> None:
    out = run(
        configured,
        """
        local provider = Provider.get("openai")
        local shown
        if provider then shown = {provider.name, provider.enabled} end
        return {shown, Provider.get("nope") == nil}
        """,
    )
    assert out == [["openai", True], True]


def test_get_never_shows_the_key(configured: ScriptRuntime) -> None:
    assert "sk-compat" not in repr(
        run(configured, 'return {Provider.list(), Provider.get("openai")}')
    )


def test_get_capabilities_lists_available_models(configured: ScriptRuntime) -> None:
    out = run(
        configured,
        """
        local caps = Provider.getCapabilities("anthropic")
        local models
        if caps then models = table.concat(caps.available_models, ", ") end
        return {models, Provider.getCapabilities("openai").available_models, Provider.getCapabilities("nope") == nil}
        """,
    )
    models, openai_models, missing = out
    assert isinstance(models, str) and models
    assert "gpt-4o" in openai_models and missing is True


def test_is_available_means_configured_enabled_and_keyed(configured: ScriptRuntime) -> None:
    out = run(
        configured,
        """
        local result = {}
        for _, name in ipairs({"openai", "anthropic", "local", "mock", "nope"}) do
            if Provider.isAvailable(name) then
                result[name] = true  -- Provider is configured and enabled
            else
                result[name] = false
            end
        end
        return result
        """,
    )
    assert out == {"openai": True, "anthropic": False, "local": False, "mock": True, "nope": False}


def test_a_name_that_is_not_a_string_is_an_error_naming_the_function(
    configured: ScriptRuntime,
) -> None:
    with pytest.raises(ScriptError, match=r"Provider\.get: name must be a string"):
        run(configured, "return Provider.get(42)")
    with pytest.raises(ScriptError, match=r"Provider\.get: name must be a string"):
        run(configured, "return Provider.getCapabilities({})")
    with pytest.raises(ScriptError, match=r"Provider\.isAvailable: name must be a string"):
        run(configured, "return Provider.isAvailable(nil)")


APPENDIX_FUNCTIONS = ["list", "get", "getCapabilities", "isAvailable"]


def test_every_appendix_function_is_there(configured: ScriptRuntime) -> None:
    names = ", ".join(f'"{n}"' for n in APPENDIX_FUNCTIONS)
    missing = run(
        configured,
        f"""
        local missing = {{}}
        for _, n in ipairs({{{names}}}) do
            if type(Provider[n]) ~= "function" then missing[#missing + 1] = n end
        end
        return missing
        """,
    )
    assert missing == {}
