"""The safe Lua sandbox: what is gone, what stays, that Python stays out of reach, what `require`
may load and `os.getenv` may read, and that no finaliser can escape the limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import MakeRuntime, error_of, memory_config

from llmspell.runtime import ScriptRuntime
from llmspell.runtime.config import ConfigError, LLMSpellConfig
from llmspell.runtime.engines.lua.sandbox import EnvironmentPolicy, SandboxRefusal

REMOVED_IN_SAFE_MODE = [
    "os.execute",
    "os.exit",
    "os.remove",
    "os.rename",
    "os.tmpname",
    "io.popen",
    "io.open",
    "io.lines",
    "package.loadlib",
    "dofile",
    "loadfile",
    "string.dump",
    "debug.sethook",
    "debug.getupvalue",
    "debug.getregistry",
    "python",
]


@pytest.mark.parametrize("name", REMOVED_IN_SAFE_MODE)
def test_safe_mode_removes_dangerous_functions(lua: ScriptRuntime, name: str) -> None:
    assert lua.execute(f"return {name} == nil").value is True


def test_safe_mode_keeps_harmless_library_functions(lua: ScriptRuntime) -> None:
    code = "return os.time() > 0, os.clock() >= 0, type(debug.traceback), string.upper('a')"
    assert lua.execute(code).value == [True, True, "function", "A"]


def test_load_refuses_binary_chunks(lua: ScriptRuntime) -> None:
    result = lua.execute("return load(string.char(27) .. 'LuaT\\0')")
    fn, message = result.value
    assert fn is None
    assert "binary chunk" in message


def test_load_refuses_binary_chunks_even_when_mode_asks_for_them(lua: ScriptRuntime) -> None:
    result = lua.execute("return load(string.char(27) .. 'LuaT', 'x', 'b')")
    assert result.value[0] is None


def test_load_still_compiles_text_chunks(lua: ScriptRuntime) -> None:
    assert lua.execute("return load('return 1 + 1')()").value == 2
    assert lua.execute("local env = {y = 5}; return load('return y', 'c', 't', env)()").value == 5


def test_require_cannot_load_c_modules(lua: ScriptRuntime) -> None:
    assert lua.execute("return package.cpath").value == ""
    err = error_of(lua, "require('socket.core')")
    assert "socket.core" in err.evalue


def test_trusted_mode_keeps_io_open_and_os_execute(make_runtime: MakeRuntime) -> None:
    trusted = make_runtime(engines__lua__security="trusted")
    code = "return type(io.open), type(os.execute), type(string.dump), type(debug.sethook)"
    assert trusted.execute(code).value == ["function"] * 4


def test_trusted_mode_still_has_no_python_global(make_runtime: MakeRuntime) -> None:
    trusted = make_runtime(engines__lua__security="trusted")
    assert trusted.execute("return python == nil").value is True


@pytest.mark.parametrize("attribute", ["__globals__", "__class__", "__dict__", "__call__"])
def test_python_attributes_of_host_objects_are_unreachable(
    make_runtime: MakeRuntime, attribute: str
) -> None:
    # The raw debug library (trusted mode) reaches the Python callable behind an API function.
    trusted = make_runtime(engines__lua__security="trusted")
    trusted.execute(
        "local i = 1\n"
        "while true do\n"
        "  local name, value = debug.getupvalue(State.save, i)\n"
        "  if name == nil then break end\n"
        "  if type(value) == 'userdata' then host_fn = value end\n"
        "  i = i + 1\n"
        "end"
    )
    assert trusted.execute("return host_fn ~= nil").value is True
    err = error_of(trusted, f"return host_fn.{attribute}")
    assert "cannot reach Python attributes" in err.evalue
    err = error_of(trusted, f"host_fn.{attribute} = 1")
    assert "cannot reach Python attributes" in err.evalue


def test_api_tables_expose_no_python_attributes(lua: ScriptRuntime) -> None:
    code = "return State.__globals__, State.__class__, State.save.__globals__"
    err = error_of(lua, code)
    assert "attempt to index a function value" in err.evalue
    assert lua.execute("return State.__dict__, State._ctx").value == [None, None]


# --- require and package -----------------------------------------------------------------------


def test_require_debug_gives_only_the_safe_debug_library(lua: ScriptRuntime) -> None:
    code = (
        "local d = require('debug')\n"
        "return d == debug, d.sethook == nil, d.getupvalue == nil, d.getregistry == nil,\n"
        "  type(d.traceback)"
    )
    assert lua.execute(code).value == [True, True, True, True, "function"]


def test_removing_the_count_hook_through_require_is_impossible(make_runtime: MakeRuntime) -> None:
    rt = make_runtime(engines__lua__timeout_s=0.3)
    err = error_of(rt, "require('debug').sethook() while true do end")
    assert "attempt to call a nil value" in err.evalue


def test_require_python_finds_no_module(make_runtime: MakeRuntime, tmp_path: Path) -> None:
    for security in ("safe", "trusted"):
        rt = make_runtime(engines__lua__security=security)
        err = error_of(rt, "return require('python')")
        assert "module 'python' not found" in err.evalue
        assert rt.execute("return package.loaded.python == nil").value is True


def test_package_path_cannot_be_set_in_safe_mode(lua: ScriptRuntime) -> None:
    for field in ("path", "cpath", "preload", "searchers", "loaded"):
        err = error_of(lua, f"package.{field} = {{}}")
        assert f"package.{field} cannot be set in safe mode" in err.evalue
    err = error_of(lua, "setmetatable(package, nil)")
    assert "protected metatable" in err.evalue


def test_package_offers_no_search_or_loader_functions(lua: ScriptRuntime) -> None:
    code = "return package.searchpath, package.loadlib, package.searchers, package.preload"
    assert lua.execute(code).value == [None, None, None, None]


def test_package_loaded_holds_only_the_safe_libraries(lua: ScriptRuntime) -> None:
    code = (
        "local names = {}\n"
        "for name in pairs(package.loaded) do names[#names + 1] = name end\n"
        "table.sort(names)\n"
        "return table.concat(names, ' ')"
    )
    names = lua.execute(code).value
    assert names == "_G coroutine debug io math os package string table utf8"


def _script(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_require_loads_modules_from_the_scripts_directory(
    lua: ScriptRuntime, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    _script(project, "lib/util.lua", "return {answer = 42}")
    _script(project, "helpers/init.lua", "return 'helpers'")
    main = _script(project, "main.lua", "return require('lib.util').answer, (require('helpers'))")
    assert lua.execute(main.read_text(), name=str(main)).value == [42, "helpers"]


def test_a_required_module_runs_in_the_sandbox(lua: ScriptRuntime, tmp_path: Path) -> None:
    _script(tmp_path, "probe.lua", "return {open = io.open, exec = os.execute, dump = string.dump}")
    main = _script(tmp_path, "main.lua", "local m = require('probe') return m.open, m.exec, m.dump")
    assert lua.execute(main.read_text(), name=str(main)).value == [None, None, None]


def test_require_reads_nothing_outside_the_allowed_directories(
    lua: ScriptRuntime, tmp_path: Path
) -> None:
    secret = _script(tmp_path / "elsewhere", "secret.lua", "password = 'hunter2'")
    project = tmp_path / "project"
    (project / "link.lua").parent.mkdir(parents=True)
    (project / "link.lua").symlink_to(secret)
    main = _script(project, "main.lua", "")
    for code, message in [
        ("require('secret')", "module 'secret' not found"),
        ("require('link')", "leads outside"),
        ("require('../elsewhere/secret')", "is not allowed in safe mode"),
        (f"require('{secret}')", "is not allowed in safe mode"),
    ]:
        err = error_of(lua, code, name=str(main))
        assert message in err.evalue
    assert lua.execute("return password").value is None


def test_require_searches_tools_allowed_paths(make_runtime: MakeRuntime, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    _script(shared, "common.lua", "return 'shared code'")
    rt = make_runtime(tools__allowed_paths=[str(shared)])
    assert rt.execute("return (require('common'))").value == "shared code"
    assert str(shared) in rt.execute("return package.path").value


def test_require_refuses_binary_modules(lua: ScriptRuntime, tmp_path: Path) -> None:
    trusted = ScriptRuntime(memory_config({"engines.lua.security": "trusted"}))
    try:
        bytecode = trusted.execute("return string.dump(function() return 1 end)").value
    finally:
        trusted.close()
    (tmp_path / "compiled.lua").write_bytes(bytecode)
    main = _script(tmp_path, "main.lua", "")
    err = error_of(lua, "require('compiled')", name=str(main))
    assert "attempt to load a binary chunk" in err.evalue


# --- the environment (item 4) ------------------------------------------------------------------


def test_os_getenv_reads_the_allowlist_only(
    make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMSPELL_STORAGE__POSTGRES__URL", "postgresql://app:s3cret@db/x")
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("SOME_TOKEN", "abc")
    rt = make_runtime()
    assert rt.execute("return os.getenv('LANG')").value == "C.UTF-8"
    err = error_of(rt, "return os.getenv('SOME_TOKEN')")
    assert "'SOME_TOKEN' is not in engines.lua.env_allowlist" in err.evalue
    err = error_of(rt, "return os.getenv('LLMSPELL_STORAGE__POSTGRES__URL')")
    assert "never readable in safe mode" in err.evalue
    assert "s3cret" not in err.evalue
    allowed = make_runtime(engines__lua__env_allowlist=["SOME_TOKEN"])
    assert allowed.execute("return os.getenv('SOME_TOKEN')").value == "abc"


def test_os_getenv_never_reads_a_providers_api_key() -> None:
    config = LLMSpellConfig.model_validate(
        {"providers": {"openai": {"type": "openai", "api_key_env": "OPENAI_API_KEY"}}}
    )
    policy = EnvironmentPolicy(config, environ={"OPENAI_API_KEY": "sk-1", "HOME": "/h"})
    assert policy.getenv("HOME") == "/h"
    with pytest.raises(SandboxRefusal, match="never readable"):
        policy.getenv("OPENAI_API_KEY")


@pytest.mark.parametrize(
    ("settings", "name"),
    [
        ({"embeddings": {"provider": "openai", "api_key_env": "EMBED_KEY"}}, "EMBED_KEY"),
        ({"providers": {"groq": {"type": "openai", "api_key_env": "GROQ_KEY"}}}, "GROQ_KEY"),
        ({}, "OPENAI_API_KEY"),  # a provider type's default key variable, configured or not
        ({}, "ANTHROPIC_API_KEY"),
    ],
)
def test_every_api_key_variable_the_config_can_name_is_never_readable(
    settings: dict[str, Any], name: str
) -> None:
    config = LLMSpellConfig.model_validate(settings)
    policy = EnvironmentPolicy(config, environ={name: "secret-1"})
    with pytest.raises(SandboxRefusal, match="never readable"):
        policy.getenv(name)
    with pytest.raises(ValueError, match="API keys cannot be readable by scripts"):
        LLMSpellConfig.model_validate({**settings, "engines": {"lua": {"env_allowlist": [name]}}})


def test_the_allowlist_cannot_expose_llmspell_settings_or_api_keys() -> None:
    with pytest.raises(ConfigError, match="LLMSPELL_\\* variables"):
        memory_config({"engines.lua.env_allowlist": ["LLMSPELL_MASTER_KEY"]})
    with pytest.raises(ValueError, match="api_key_env"):
        LLMSpellConfig.model_validate(
            {
                "providers": {"openai": {"type": "openai", "api_key_env": "OPENAI_API_KEY"}},
                "engines": {"lua": {"env_allowlist": ["OPENAI_API_KEY"]}},
            }
        )


def test_trusted_mode_reads_any_variable(
    make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOME_TOKEN", "abc")
    trusted = make_runtime(engines__lua__security="trusted")
    assert trusted.execute("return os.getenv('SOME_TOKEN')").value == "abc"


def test_os_setlocale_only_reads_the_locale_in_safe_mode(lua: ScriptRuntime) -> None:
    assert isinstance(lua.execute("return os.setlocale()").value, str)
    err = error_of(lua, "os.setlocale('C')")
    assert "can only query the locale" in err.evalue


# --- finalisers and host objects (item 6) --------------------------------------------------------


def test_setmetatable_refuses_gc_finalisers_in_safe_mode(lua: ScriptRuntime) -> None:
    err = error_of(lua, "setmetatable({}, {__gc = function() while true do end end})")
    assert "__gc metamethods are not allowed in safe mode" in err.evalue
    err = error_of(lua, "setmetatable({}, {__gc = false})")  # marks it all the same
    assert "__gc" in err.evalue
    assert lua.execute("return getmetatable(setmetatable({}, {__index = {}})) ~= nil").value


def test_the_standard_files_are_host_streams_without_c_handles(lua: ScriptRuntime) -> None:
    code = "return io.type(io.stdin), io.type(io.stdout), getmetatable(io.stdin).__gc"
    assert lua.execute(code).value == ["file", "file", None]
    assert lua.execute("return io.flush()").value is None


def test_host_objects_show_no_metatable(make_runtime: MakeRuntime) -> None:
    # A Python object reaching a script (an error raised by the host, say) keeps its
    # metatable, which is shared by every host object, out of reach. Strings index the string
    # library (through the table of id methods, `id:get_status()`).
    rt = make_runtime()
    code = "return getmetatable(123), getmetatable('').__index.upper == string.upper"
    assert rt.execute(code).value == [None, True]
