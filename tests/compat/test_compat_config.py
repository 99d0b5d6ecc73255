"""`Config` as the rs-llmspell v0.13.1 Lua API appendix documents it: every function is there,
takes the documented arguments and returns the documented fields. The setters the appendix
marks "if permitted" / "dangerous" are refused with an error that says why (our security model:
docs/user-guide/09-security-model.md); see docs/reference/compatibility.md."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from compat_helpers import run

from llmspell.runtime import ScriptError, ScriptRuntime, load_config
from llmspell.runtime.config import with_overrides
from llmspell.runtime.tools.paths import private_temp_path

APPENDIX_FUNCTIONS = [
    "get", "getSection", "getDefaultEngine", "getProvider", "listProviders", "setProvider",
    "getSecurity", "setSecurity", "isFileAccessAllowed", "isNetworkAccessAllowed", "getTools",
    "addAllowedPath", "getPermissions", "snapshot", "restoreSnapshot", "toJson",
]  # fmt: skip


@pytest.fixture
def lua(isolated_env: Path) -> Iterator[ScriptRuntime]:
    yield from _runtime({})


def _runtime(overrides: dict[str, Any]) -> Iterator[ScriptRuntime]:
    config = load_config(profile="memory", env={}).config
    rt = ScriptRuntime.with_engine(with_overrides(config, overrides), "lua")
    try:
        yield rt
    finally:
        rt.close()


def refusal(rt: ScriptRuntime, code: str) -> str:
    with pytest.raises(ScriptError) as info:
        rt.execute(code)
    return info.value.evalue


@pytest.mark.parametrize("name", APPENDIX_FUNCTIONS)
def test_every_appendix_config_function_is_there(lua: ScriptRuntime, name: str) -> None:
    assert run(lua, f"return type(Config.{name})") == "function"


def test_config_get_without_a_path_is_the_whole_config(lua: ScriptRuntime) -> None:
    config = run(lua, "local config = Config.get() return config")
    assert config["default_engine"] == "lua"
    assert run(lua, "return Config.get().default_engine") == "lua"


def test_config_get_of_an_unknown_path_is_nil_not_an_error(lua: ScriptRuntime) -> None:
    assert run(lua, 'return Config.get("tools.system.allow_process_execution") == nil') is True
    assert run(lua, 'return Config.get("nope") == nil') is True


def test_config_get_reads_a_dotted_path(lua: ScriptRuntime) -> None:
    assert run(lua, 'return Config.get("storage.backend")') == "memory"


def test_config_get_section_returns_the_tools_section(lua: ScriptRuntime) -> None:
    tools = run(lua, 'local tools_config = Config.getSection("tools") return tools_config')
    assert tools["network_allowed"] is False
    assert run(lua, 'return type(Config.getSection("tools").allowed_paths)') == "table"
    assert run(lua, 'return Config.getSection("nope") == nil') is True


def test_config_get_default_engine_names_the_engine(lua: ScriptRuntime) -> None:
    assert run(lua, "local engine = Config.getDefaultEngine() return engine") == "lua"


def test_config_get_provider_returns_its_settings_without_the_key(isolated_env: Path) -> None:
    openai = {"type": "openai", "model": "gpt-4o-mini", "api_key_env": "CUSTOM_API_KEY"}
    for rt in _runtime({"providers": {"openai": openai}}):
        code = 'local openai_config = Config.getProvider("openai") return openai_config'
        settings = run(rt, code)
        assert settings["name"] == "openai"
        assert settings["type"] == "openai"
        assert settings["model"] == "gpt-4o-mini"
        assert settings["api_key_env"] == "CUSTOM_API_KEY"
        assert run(rt, 'return Config.getProvider("nope") == nil') is True


def test_config_get_provider_redacts_a_password_in_the_base_url(isolated_env: Path) -> None:
    proxy = {"type": "openai", "base_url": "https://user:hunter2@proxy.example/v1"}
    for rt in _runtime({"providers": {"proxy": proxy}}):
        settings = run(rt, 'return Config.getProvider("proxy")')
        assert "hunter2" not in json.dumps(settings)
        assert "hunter2" not in run(rt, "return Config.toJson()")


def test_config_list_providers_lists_configured_ones_and_the_mock(isolated_env: Path) -> None:
    for rt in _runtime({"providers": {"openai": {"type": "openai"}}}):
        assert run(rt, "local providers = Config.listProviders() return providers") == [
            "mock",
            "openai",
        ]


def test_config_set_provider_is_refused_saying_where_providers_are_set(
    lua: ScriptRuntime,
) -> None:
    code = (
        'Config.setProvider("custom", {provider_type = "openai", '
        'api_key_env = "CUSTOM_API_KEY", model = "gpt-4"})'
    )
    message = refusal(lua, code)
    assert message.startswith("Config.setProvider: scripts cannot change the configuration")
    assert "[providers.<name>]" in message
    assert run(lua, 'return Config.getProvider("custom") == nil') is True


def test_config_get_security_has_the_documented_fields(lua: ScriptRuntime) -> None:
    security = run(lua, "local security = Config.getSecurity() return security")
    assert security["allow_file_access"] is True  # the default: a private temporary directory
    assert security["allowed_paths"] == [private_temp_path()]
    assert security["allow_network_access"] is False
    assert security["lua_security"] == "safe"
    assert security["sandboxed"] is True


def test_config_get_security_follows_the_tools_settings(isolated_env: Path) -> None:
    overrides = {"tools.network_allowed": True, "tools.allowed_paths": ["/data"]}
    for rt in _runtime(overrides):
        security = run(rt, "return Config.getSecurity()")
        assert security["allow_file_access"] is True
        assert security["allow_network_access"] is True
        assert security["allowed_paths"] == ["/data"]


def test_config_set_security_is_refused_and_changes_nothing(lua: ScriptRuntime) -> None:
    code = "Config.setSecurity({allow_file_access = true, allow_network_access = true})"
    message = refusal(lua, code)
    assert message.startswith("Config.setSecurity: scripts cannot change the configuration")
    assert run(lua, "return Config.getSecurity().allowed_paths") == [private_temp_path()]
    assert run(lua, "return Config.isNetworkAccessAllowed()") is False


def test_config_access_checks_return_booleans(lua: ScriptRuntime) -> None:
    # file access is on by default (a private temporary directory), network access off
    assert run(lua, "if Config.isFileAccessAllowed() then return 1 end return 0") == 1
    assert run(lua, "if Config.isNetworkAccessAllowed() then return 1 end return 0") == 0


def test_config_get_tools_returns_the_tools_section(lua: ScriptRuntime) -> None:
    tools = run(lua, "local tools = Config.getTools() return tools")
    assert set(tools) == {"allowed_paths", "network_allowed"}


def test_config_add_allowed_path_is_refused_and_adds_nothing(lua: ScriptRuntime) -> None:
    message = refusal(lua, 'Config.addAllowedPath("/tmp/myapp")')
    assert message.startswith("Config.addAllowedPath: scripts cannot change the configuration")
    assert "tools.allowed_paths" in message
    assert run(lua, "return Config.getTools().allowed_paths") == [private_temp_path()]


def test_config_get_permissions_says_providers_and_security_are_read_only(
    lua: ScriptRuntime,
) -> None:
    perms = run(lua, "local perms = Config.getPermissions() return perms")
    assert perms["modify_providers"] is False
    assert perms["modify_security"] is False


def test_config_snapshot_can_be_restored_by_its_timestamp(lua: ScriptRuntime) -> None:
    code = "local stamp = Config.snapshot() return type(stamp), Config.restoreSnapshot(stamp)"
    assert run(lua, code) == ["number", True]
    assert isinstance(run(lua, "Config.snapshot()"), int)  # a statement, as the appendix has it


def test_config_restore_snapshot_of_an_unknown_timestamp_is_an_error(lua: ScriptRuntime) -> None:
    message = refusal(lua, "Config.restoreSnapshot(1234567890)")
    assert message == "Config.restoreSnapshot: no snapshot at 1234567890; snapshots: none yet"


def test_config_to_json_is_the_config_as_json(lua: ScriptRuntime) -> None:
    text = run(lua, "local json = Config.toJson() return json")
    assert json.loads(text)["default_engine"] == "lua"
    assert run(lua, "return JSON.parse(Config.toJson()).storage.backend") == "memory"
