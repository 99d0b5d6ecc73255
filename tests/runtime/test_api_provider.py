"""`Provider` and the provider manager: configured providers and the built-in mock, how a model
name finds its provider, keys and availability, the mock's rules and scripted replies, and the
`[providers]` config checks."""

# ruff: noqa: E501 - the Lua programs and messages under test read best on one line each

from __future__ import annotations

from typing import Any

import pytest
from runtime_helpers import MakeRuntime, error_of, memory_config

from llmspell.runtime import ScriptRuntime
from llmspell.runtime.config import ConfigError, LLMSpellConfig
from llmspell.runtime.errors import NotFound
from llmspell.runtime.providers import (
    ChatRequest,
    Message,
    MissingApiKey,
    ProviderError,
    ProviderManager,
)


def value(rt: ScriptRuntime, code: str) -> Any:
    return rt.execute(code).value


def manager(providers: dict[str, Any] | None = None, **agents: Any) -> ProviderManager:
    return ProviderManager(
        LLMSpellConfig.model_validate({"providers": providers or {}, "agents": agents})
    )


def test_list_get_capabilities_and_availability(
    make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    rt = make_runtime(
        providers={
            "openai": {"type": "openai", "model": "gpt-4o-mini", "models": ["gpt-4o"]},
            "off": {"type": "anthropic", "enabled": False},
        }
    )
    out = value(
        rt,
        """
      local names = {}
      for _, p in ipairs(Provider.list()) do names[#names + 1] = p.name end
      return {names, Provider.get("openai"), Provider.getCapabilities("openai"),
              Provider.isAvailable("openai"), Provider.isAvailable("mock"),
              Provider.isAvailable("off"), Provider.isAvailable("nope"), Provider.get("nope") == nil}
    """,
    )
    names, openai, capabilities, available, mock, off, nope, missing = out
    assert names == ["mock", "off", "openai"]
    assert openai["type"] == "openai" and openai["model"] == "gpt-4o-mini"
    assert openai["api_key_env"] == "OPENAI_API_KEY" and openai["builtin"] is False
    assert openai["available"] is False  # no key anywhere
    assert capabilities["available_models"] == ["gpt-4o-mini", "gpt-4o"]
    assert capabilities["supports_streaming"] is True
    assert (available, mock, off, nope, missing) == (False, True, False, False, True)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert value(rt, 'return Provider.isAvailable("openai")') is True
    assert "sk-test" not in repr(value(rt, "return Provider.list()"))


def test_provider_get_hides_a_password_in_base_url(make_runtime: MakeRuntime) -> None:
    url = "http://proxy-user:pw-proxy-92@gpu-box:11434/v1"
    rt = make_runtime(providers={"local": {"type": "ollama", "base_url": url}})
    assert value(rt, 'return Provider.get("local").base_url') == (
        "http://proxy-user:***@gpu-box:11434/v1"
    )
    assert "pw-proxy-92" not in repr(value(rt, "return Provider.list()"))


def test_model_names_find_their_provider() -> None:
    providers = manager(
        {"work": {"type": "openai", "model": "gpt-4o-mini"}, "claude": {"type": "anthropic"}}
    )
    assert [(p.name, m) for p, m in [providers.resolve("work/gpt-4o")]] == [("work", "gpt-4o")]
    assert providers.resolve("work")[1] == "gpt-4o-mini"  # the provider's default model
    assert providers.resolve("anthropic/claude-x")[0].name == "claude"  # the only one of a type
    assert providers.resolve("mock")[1] == "mock-1"
    assert providers.resolve("mock/vendor/model-7b")[1] == "vendor/model-7b"
    with pytest.raises(
        NotFound, match=r"unknown provider 'nope' in model 'nope/x'; providers: claude, mock, work"
    ):
        providers.resolve("nope/x")
    with pytest.raises(NotFound, match=r"names no provider; write 'provider/model' with one of"):
        providers.resolve("gpt-4o")
    assert providers.resolve("claude")[1] == "claude-sonnet-4-5"  # the type's default
    single = manager({"only": {"type": "openai"}})
    assert single.resolve("gpt-4o")[0].name == "only"  # a bare model of the only provider


def test_a_disabled_provider_refuses_and_an_unknown_one_lists_the_others() -> None:
    providers = manager({"off": {"type": "openai", "enabled": False}})
    with pytest.raises(
        ProviderError, match=r"provider 'off' is disabled \(providers.off.enabled = false\)"
    ):
        providers.get("off")
    with pytest.raises(NotFound, match="no provider named 'x'; providers: mock, off"):
        providers.get("x")


stored_uses: list[str] = []


class FakeKeys:
    def __init__(self, keys: dict[str, str]) -> None:
        self.keys = keys

    def secret(self, service: str) -> str | None:
        stored_uses.append(service)
        return self.keys.get(service)

    def has(self, service: str) -> bool:
        return service in self.keys


def test_keys_come_from_the_env_var_then_the_key_store_by_name_then_type(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stored = {"team": "from-store-name", "openai": "from-store-type"}
    config = LLMSpellConfig.model_validate(
        {
            "providers": {
                "team": {"type": "openai", "api_key_env": "TEAM_KEY"},
                "other": {"type": "openai"},
            }
        }
    )
    providers = ProviderManager(config, lambda: FakeKeys(stored))
    monkeypatch.setenv("TEAM_KEY", "from-env")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert providers.get("team").api_key() == "from-env"
    monkeypatch.setenv("TEAM_KEY", "")  # set but empty counts as unset
    assert providers.get("team").api_key() == "from-store-name"
    assert providers.get("other").api_key() == "from-store-type"
    stored_uses.clear()
    assert providers.is_available("other") and stored_uses == []  # a check is not a use
    bare = ProviderManager(config, lambda: FakeKeys({}))
    with pytest.raises(
        MissingApiKey,
        match=r"provider 'other' needs an API key: set OPENAI_API_KEY or run `llmspell keys add other`",
    ):
        bare.get("other").api_key()


def test_mock_rules_from_config_and_scripted_replies_come_first() -> None:
    providers = manager(
        {
            "demo": {
                "type": "mock",
                "replies": [
                    {"when": "weather", "text": "It is sunny."},
                    {
                        "when": "sum",
                        "tool_calls": [{"name": "calculator", "arguments": {"input": "1+2"}}],
                    },
                ],
            }
        }
    )
    demo = providers.get("demo")

    def ask(text: str) -> Any:
        return providers.call(demo, ChatRequest("m", (Message("user", text),)))

    assert ask("What's the WEATHER like?").text == "It is sunny."
    calls = ask("a sum please").tool_calls
    assert [(c.name, c.arguments) for c in calls] == [("calculator", {"input": "1+2"})]
    demo.script(["first", {"text": "second"}])  # type: ignore[attr-defined]
    assert [ask("weather").text, ask("weather").text, ask("weather").text] == [
        "first",
        "second",
        "It is sunny.",
    ]


def test_provider_script_checks_what_it_is_given(make_runtime: MakeRuntime) -> None:
    rt = make_runtime(providers={"real": {"type": "openai"}})
    assert (
        "only mock providers take scripted replies"
        in error_of(rt, 'Provider.script("real", {"x"})').evalue
    )
    assert (
        "a mock reply needs text or tool_calls"
        in error_of(rt, 'Provider.script("mock", {{}})').evalue
    )
    assert (
        "unknown mock reply field 'txt'"
        in error_of(rt, 'Provider.script("mock", {{txt = "x"}})').evalue
    )
    assert (
        "a mock tool call needs a name"
        in error_of(rt, 'Provider.script("mock", {{tool_calls = {{arguments = {}}}}})').evalue
    )
    assert value(rt, 'return Provider.script("mock", "one")') == 1
    assert value(rt, 'return Provider.last_request("mock")') is None


def test_last_request_shows_what_the_model_was_sent(lua: ScriptRuntime) -> None:
    lua.execute(
        'Agent.builder():name("x"):model("mock"):system_prompt("S"):allow_tool("calculator"):build():execute("hi")'
    )
    sent = value(lua, 'return Provider.last_request("mock")')
    assert sent["messages"] == [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "hi"},
    ]
    assert sent["tools"][0]["name"] == "calculator" and sent["tool_choice"] == "auto"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"providers": {"x": {"type": "gemini"}}}, "providers.x.type = 'gemini'"),
        (
            {"providers": {"x": {"type": "openai", "replies": [{"text": "hi"}]}}},
            "replies is a setting of type 'mock' providers",
        ),
        (
            {"providers": {"x": {"type": "openai", "api_key": "sk"}}},
            "unknown key 'providers.x.api_key'",
        ),
        (
            {"providers": {"x": {"type": "openai", "api_key_env": "not a name"}}},
            "is not an environment variable name",
        ),
        ({"providers": {"x": {"type": "mock", "max_retries": 11}}}, "providers.x.max_retries = 11"),
        ({"agents": {"max_tool_rounds": 0}}, "agents.max_tool_rounds = 0"),
    ],
)
def test_bad_provider_and_agent_settings_are_config_errors(
    settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        memory_config(settings)


def test_a_provider_uses_the_key_stored_with_llmspell_keys(
    make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64

    from fakes.llm_servers import FakeLLMServer, Reply

    from llmspell.runtime.keys import KeyStore

    monkeypatch.setenv("LLMSPELL_MASTER_KEY", base64.b64encode(b"k" * 32).decode())
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeLLMServer(fallback=Reply("stored key works")) as server:
        rt = make_runtime(providers={"remote": {"type": "openai", "base_url": server.openai_url}})
        keys = rt.infrastructure.get(KeyStore)
        assert value(rt, 'return Provider.isAvailable("remote")') is False
        keys.add("remote", "sk-from-the-store")
        assert value(rt, 'return Provider.isAvailable("remote")') is True
        assert keys.list("remote")[0].usage_count == 0  # checking is not using
        out = value(
            rt,
            'return Agent.builder():name("r"):model("remote/fake-small"):build():execute("hi").text',
        )
        assert out == "stored key works"
        assert server.chat_requests[-1].headers["authorization"] == "Bearer sk-from-the-store"
        assert keys.list("remote")[0].usage_count == 1
        assert "sk-from-the-store" not in repr(value(rt, "return {Provider.list(), Config.get()}"))
